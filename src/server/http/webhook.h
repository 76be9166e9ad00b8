// POSTs {request_id, status, payload, error} to a job's webhook URL (http or https), once,
// with short timeouts; failures are logged, never thrown.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace canter::server {

bool post_webhook(const std::string& url, const nlohmann::json& body, std::string* error);

}  // namespace canter::server
