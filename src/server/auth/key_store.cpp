#include "server/auth/key_store.h"

#include "server/auth/sha256.h"
#include "server/store/db.h"
#include "util/check.h"

namespace canter::server {
namespace {

const char* kColumns = "id, name, prefix, credits, created_at, revoked_at, role";

ApiKey from_row(const DbRow& r) {
    ApiKey k;
    k.id = r.i("id");
    k.name = r.s("name");
    k.prefix = r.s("prefix");
    k.credits = r.i("credits");
    k.created_at = r.d("created_at");
    k.revoked = !r.is_null("revoked_at");
    k.role = r.s("role");
    return k;
}

}  // namespace

ApiKey KeyStore::create(const std::string& name, int64_t credits, std::string* secret, const std::string& role) {
    CANTER_CHECK(!name.empty() && name.size() <= 200, InvalidArgument, "key name must be 1..200 characters");
    CANTER_CHECK(credits >= 0, InvalidArgument, "credits must be >= 0, got " << credits);
    CANTER_CHECK(role == "user" || role == "admin", InvalidArgument, "--role must be user or admin, got '" << role << "'");
    const std::string key = "ck_" + random_hex(24);
    db_.run("INSERT INTO api_keys(name, prefix, key_hash, credits, created_at, role) VALUES(?,?,?,?,?,?)",
            {name, key.substr(0, 11), sha256_hex(key), credits, now_seconds(), role});
    const int64_t id = db_.last_insert_rowid();
    if (secret) *secret = key;
    return *get(id);
}

std::vector<ApiKey> KeyStore::list() {
    std::vector<ApiKey> out;
    for (const auto& r : db_.query(std::string("SELECT ") + kColumns + " FROM api_keys ORDER BY id"))
        out.push_back(from_row(r));
    return out;
}

std::string KeyStore::key_hash(int64_t id) {
    auto r = db_.query_one("SELECT key_hash FROM api_keys WHERE id = ?", {id});
    return r ? r->s("key_hash") : std::string();
}

std::optional<ApiKey> KeyStore::get(int64_t id) {
    auto r = db_.query_one(std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = ?", {id});
    if (!r) return std::nullopt;
    return from_row(*r);
}

ApiKey KeyStore::revoke(const std::string& id_or_name) {
    std::optional<DbRow> r;
    bool numeric = !id_or_name.empty() && id_or_name.find_first_not_of("0123456789") == std::string::npos;
    if (numeric)
        r = db_.query_one(std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = ?",
                          {int64_t(std::stoll(id_or_name))});
    if (!r) {
        auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM api_keys WHERE name = ?", {id_or_name});
        CANTER_CHECK(rows.size() <= 1, InvalidArgument,
                     rows.size() << " keys are named '" << id_or_name << "'; revoke one by its id");
        if (!rows.empty()) r = rows.front();
    }
    CANTER_CHECK(r.has_value(), NotFound, "no API key with id or name '" << id_or_name << "'");
    db_.run("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", {now_seconds(), r->i("id")});
    return *get(r->i("id"));
}

std::optional<ApiKey> KeyStore::find_by_secret(const std::string& secret) {
    auto r = db_.query_one(std::string("SELECT ") + kColumns + " FROM api_keys WHERE key_hash = ?",
                           {sha256_hex(secret)});
    if (!r) return std::nullopt;
    return from_row(*r);
}

}  // namespace canter::server
