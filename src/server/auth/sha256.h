// SHA-256 (FIPS 180-4), small and dependency-free; used to store API keys hashed.
#pragma once

#include <string>

namespace canter::server {

std::string sha256_hex(const std::string& data);  // 64 lowercase hex digits

// `bytes` cryptographically random bytes (the OS generator), as lowercase hex.
std::string random_hex(size_t bytes);
// A 24-hex-digit (96-bit) random identifier.
inline std::string random_id() { return random_hex(12); }

}  // namespace canter::server
