#include "server/store/db.h"

#include <sqlite3.h>

#include <chrono>

#include "util/check.h"

namespace canter::server {

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

const DbValue& DbRow::at(const std::string& column) const {
    for (size_t k = 0; k < names.size(); ++k)
        if (names[k] == column) return values[k];
    CANTER_THROW(Internal, "no column '" << column << "' in result row");
}
bool DbRow::is_null(const std::string& column) const {
    return std::holds_alternative<std::nullptr_t>(at(column));
}
int64_t DbRow::i(const std::string& column) const {
    const auto& v = at(column);
    if (auto p = std::get_if<int64_t>(&v)) return *p;
    if (auto p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
    return 0;
}
double DbRow::d(const std::string& column) const {
    const auto& v = at(column);
    if (auto p = std::get_if<double>(&v)) return *p;
    if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
    return 0;
}
std::string DbRow::s(const std::string& column) const {
    const auto& v = at(column);
    if (auto p = std::get_if<std::string>(&v)) return *p;
    if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
    return "";
}

Db::Db(const std::string& path) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        if (db_) sqlite3_close(db_);
        db_ = nullptr;
        CANTER_THROW(IO, "cannot open database " << path << ": " << msg);
    }
    sqlite3_busy_timeout(db_, 5000);
    if (path != ":memory:") exec("PRAGMA journal_mode=WAL;");
    exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
}

Db::~Db() {
    if (db_) sqlite3_close(db_);
}

void Db::exec(const std::string& sql) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        CANTER_THROW(IO, "sqlite: " << msg << " in: " << sql.substr(0, 120));
    }
}

std::vector<DbRow> Db::query_locked(const std::string& sql, const std::vector<DbValue>& binds,
                                    int64_t* changes) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
        CANTER_THROW(Internal, "sqlite prepare: " << sqlite3_errmsg(db_) << " in: " << sql.substr(0, 120));
    struct Finalize {
        sqlite3_stmt* s;
        ~Finalize() { sqlite3_finalize(s); }
    } finalize{stmt};
    for (size_t k = 0; k < binds.size(); ++k) {
        const int idx = static_cast<int>(k) + 1;
        const auto& b = binds[k];
        if (std::holds_alternative<std::nullptr_t>(b)) sqlite3_bind_null(stmt, idx);
        else if (auto p = std::get_if<int64_t>(&b)) sqlite3_bind_int64(stmt, idx, *p);
        else if (auto p = std::get_if<double>(&b)) sqlite3_bind_double(stmt, idx, *p);
        else {
            const auto& str = std::get<std::string>(b);
            sqlite3_bind_text(stmt, idx, str.data(), static_cast<int>(str.size()), SQLITE_TRANSIENT);
        }
    }
    std::vector<DbRow> rows;
    std::vector<std::string> names;
    const int ncol = sqlite3_column_count(stmt);
    for (int c = 0; c < ncol; ++c) names.emplace_back(sqlite3_column_name(stmt, c));
    for (;;) {
        const int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW)
            CANTER_THROW(IO, "sqlite step: " << sqlite3_errmsg(db_) << " in: " << sql.substr(0, 120));
        DbRow row;
        row.names = names;
        for (int c = 0; c < ncol; ++c) {
            switch (sqlite3_column_type(stmt, c)) {
                case SQLITE_INTEGER: row.values.emplace_back(int64_t(sqlite3_column_int64(stmt, c))); break;
                case SQLITE_FLOAT: row.values.emplace_back(sqlite3_column_double(stmt, c)); break;
                case SQLITE_NULL: row.values.emplace_back(nullptr); break;
                default: {
                    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
                    row.values.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
                }
            }
        }
        rows.push_back(std::move(row));
    }
    if (changes) *changes = sqlite3_changes(db_);
    return rows;
}

std::vector<DbRow> Db::query(const std::string& sql, const std::vector<DbValue>& binds) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return query_locked(sql, binds, nullptr);
}

std::optional<DbRow> Db::query_one(const std::string& sql, const std::vector<DbValue>& binds) {
    auto rows = query(sql, binds);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

int64_t Db::run(const std::string& sql, const std::vector<DbValue>& binds) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    int64_t changes = 0;
    query_locked(sql, binds, &changes);
    return changes;
}

int64_t Db::last_insert_rowid() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return sqlite3_last_insert_rowid(db_);
}

void Db::transaction(const std::function<void()>& fn) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    exec("BEGIN IMMEDIATE");
    try {
        fn();
    } catch (...) {
        try { exec("ROLLBACK"); } catch (...) {}
        throw;
    }
    exec("COMMIT");
}

}  // namespace canter::server
