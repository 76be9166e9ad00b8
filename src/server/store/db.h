// A small RAII layer over SQLite: one connection, prepared statements with positional binds,
// and errors as canter::Error naming the SQL that failed.
//
// Thread-safety: a Db is used by many threads; every call takes `mutex_` (SQLite's own
// serialized mode would also work, but transactions need a lock that spans several calls).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace canter::server {

using DbValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

// One result row; columns by index, typed accessors.
struct DbRow {
    std::vector<DbValue> values;
    std::vector<std::string> names;
    int64_t i(const std::string& column) const;
    double d(const std::string& column) const;
    std::string s(const std::string& column) const;  // "" for NULL
    bool is_null(const std::string& column) const;

private:
    const DbValue& at(const std::string& column) const;
};

class Db {
public:
    // Opens (creating) `path`; ":memory:" for tests. Enables WAL, foreign keys, busy timeout.
    explicit Db(const std::string& path);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    void exec(const std::string& sql);  // one or more statements, no binds
    std::vector<DbRow> query(const std::string& sql, const std::vector<DbValue>& binds = {});
    std::optional<DbRow> query_one(const std::string& sql, const std::vector<DbValue>& binds = {});
    // Runs a statement; returns sqlite3_changes().
    int64_t run(const std::string& sql, const std::vector<DbValue>& binds = {});
    int64_t last_insert_rowid();

    // Runs `fn` inside BEGIN IMMEDIATE … COMMIT, holding the lock; rolls back if it throws.
    void transaction(const std::function<void()>& fn);

private:
    std::vector<DbRow> query_locked(const std::string& sql, const std::vector<DbValue>& binds,
                                    int64_t* changes);
    sqlite3* db_ = nullptr;
    std::recursive_mutex mutex_;  // guards db_ and spans transactions
};

double now_seconds();  // wall clock, seconds since the epoch

}  // namespace canter::server
