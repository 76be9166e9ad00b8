#include "server/http/webhook.h"

#include <httplib.h>

#include "canter/error.h"
#include "server/http/webhook_target.h"

namespace canter::server {

bool post_webhook(const std::string& url, const std::string& body, const std::string& signature, bool allow_private,
                  std::string* error) {
    try {
        const WebhookTarget t = resolve_webhook_target(url, allow_private);
        const std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
        httplib::Client client(t.scheme + "://" + host + ":" + std::to_string(t.port));
        // Connect to the address vetted just now, not to whatever a second lookup returns.
        client.set_hostname_addr_map({{t.host, t.addresses.front()}});
        client.set_follow_location(false);
        client.set_connection_timeout(5);
        client.set_read_timeout(10);
        httplib::Headers headers;
        if (!signature.empty()) headers.emplace("X-Canter-Signature", "sha256=" + signature);
        auto res = client.Post(t.path, headers, body, "application/json");
        if (!res) {
            if (error) *error = httplib::to_string(res.error());
            return false;
        }
        if (res->status >= 300) {
            if (error) *error = "HTTP " + std::to_string(res->status);
            return false;
        }
        return true;
    } catch (const std::exception& e) {
        if (error) *error = e.what();
        return false;
    }
}

}  // namespace canter::server
