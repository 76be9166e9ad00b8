// POSTs {request_id, status, payload, error} to a job's webhook URL (http or https), once,
// with short timeouts; failures are logged, never thrown. The destination is resolved and vetted
// again here (server/http/webhook_target.h) and the connection goes to that vetted address, so a
// DNS answer that changed since submission (rebinding) cannot redirect it; redirects are not
// followed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace canter::server {

// `body` is sent as it is; `signature` (hex HMAC-SHA256 of body) goes in X-Canter-Signature as
// "sha256=<hex>" when not empty.
bool post_webhook(const std::string& url, const std::string& body, const std::string& signature, bool allow_private,
                  std::string* error);

}  // namespace canter::server
