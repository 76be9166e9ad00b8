// HMAC-SHA256 (RFC 2104) over the dependency-free SHA-256: signs webhook deliveries.
#pragma once

#include <string>

namespace canter::server {

std::string hmac_sha256_hex(const std::string& key, const std::string& message);  // 64 hex digits

}  // namespace canter::server
