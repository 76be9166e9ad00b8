// API keys: created with a random secret shown once, stored as SHA-256, revoked by id.
// Credits live on the key row; jobs charge and refund them (JobStore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canter::server {

class Db;

constexpr int64_t kTrialCredits = 100;  // a new key without --credits

struct ApiKey {
    int64_t id = 0;
    std::string name;
    std::string prefix;  // "ck_1a2b3c4d", safe to show
    int64_t credits = 0;
    double created_at = 0;
    bool revoked = false;
    std::string role = "user";  // "admin" may set job priorities
};

class KeyStore {
public:
    explicit KeyStore(Db& db) : db_(db) {}

    // Returns the new key row and writes the secret (only ever returned here) to `secret`.
    // `role` is "user" or "admin".
    ApiKey create(const std::string& name, int64_t credits, std::string* secret, const std::string& role = "user");
    std::vector<ApiKey> list();
    // Revokes by numeric id or by name; throws NotFound naming what was asked for.
    ApiKey revoke(const std::string& id_or_name);
    // The key matching a presented secret (revoked ones included), or nullopt.
    std::optional<ApiKey> find_by_secret(const std::string& secret);
    std::optional<ApiKey> get(int64_t id);
    // The stored hash (hex SHA-256 of the secret): the key owner can compute it too, so it is
    // the webhook signing key.
    std::string key_hash(int64_t id);

private:
    Db& db_;
};

}  // namespace canter::server
