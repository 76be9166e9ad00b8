#include "server/http/webhook.h"

#include <httplib.h>

namespace canter::server {

bool post_webhook(const std::string& url, const nlohmann::json& body, std::string* error) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
        if (error) *error = "not a URL";
        return false;
    }
    const auto path_start = url.find('/', scheme_end + 3);
    const std::string origin = url.substr(0, path_start);
    const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
    try {
        httplib::Client client(origin);
        client.set_connection_timeout(5);
        client.set_read_timeout(10);
        auto res = client.Post(path, body.dump(), "application/json");
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
