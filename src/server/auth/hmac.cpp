#include "server/auth/hmac.h"

#include "server/auth/sha256.h"

namespace canter::server {
namespace {

std::string hex_to_bytes(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

}  // namespace

std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
    constexpr size_t kBlock = 64;  // SHA-256's block size
    std::string k = key.size() > kBlock ? hex_to_bytes(sha256_hex(key)) : key;
    k.resize(kBlock, '\0');
    std::string inner(kBlock, '\0'), outer(kBlock, '\0');
    for (size_t i = 0; i < kBlock; ++i) {
        inner[i] = static_cast<char>(k[i] ^ 0x36);
        outer[i] = static_cast<char>(k[i] ^ 0x5c);
    }
    return sha256_hex(outer + hex_to_bytes(sha256_hex(inner + message)));
}

}  // namespace canter::server
