#include "server/store/schema.h"

#include "server/store/db.h"
#include "util/check.h"

namespace canter::server {
namespace {

// Version 1: API keys (hashed) and jobs. `seq` orders jobs FIFO within a priority.
const char* kSchemaV1 = R"SQL(
CREATE TABLE IF NOT EXISTS api_keys (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL,
  prefix      TEXT NOT NULL,          -- first characters of the key, for display
  key_hash    TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the whole key
  credits     INTEGER NOT NULL,
  created_at  REAL NOT NULL,
  revoked_at  REAL                    -- NULL while the key is valid
);
CREATE TABLE IF NOT EXISTS jobs (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,  -- public request id
  key_id       INTEGER NOT NULL REFERENCES api_keys(id),
  api          TEXT NOT NULL,         -- 'queue' or 'openai': which shape the client expects
  model        TEXT NOT NULL,
  status       TEXT NOT NULL,         -- queued, running, succeeded, failed, cancelled
  priority     INTEGER NOT NULL DEFAULT 0,
  request_json TEXT NOT NULL,
  result_json  TEXT,
  error        TEXT,
  cost         INTEGER NOT NULL DEFAULT 0,   -- credits charged at submission
  refunded     INTEGER NOT NULL DEFAULT 0,
  webhook_url  TEXT,
  file_token   TEXT NOT NULL,         -- capability token in output URLs (for <video src>)
  attempts     INTEGER NOT NULL DEFAULT 0,
  worker       TEXT,
  created_at   REAL NOT NULL,
  started_at   REAL,
  finished_at  REAL,
  deleted_at   REAL                   -- outputs removed (DELETE or retention)
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(status, priority DESC, seq);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key_id, seq);
)SQL";

// Version 2: key roles. 'admin' keys may set a job priority; every other key is 'user'.
const char* kSchemaV2 = R"SQL(
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
)SQL";

// Version 3: the durable webhook outbox (server/store/webhook_outbox.h).
const char* kSchemaV3 = R"SQL(
CREATE TABLE IF NOT EXISTS webhook_outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id       TEXT NOT NULL,
  url          TEXT NOT NULL,
  body         TEXT NOT NULL,          -- exactly the bytes that are signed and sent
  signature    TEXT NOT NULL,          -- hex HMAC-SHA256 of body
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_at      REAL NOT NULL,          -- not before this time
  last_error   TEXT,
  delivered_at REAL,
  gave_up_at   REAL
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox(delivered_at, gave_up_at, next_at);
)SQL";

}  // namespace

void migrate(Db& db) {
    const auto row = db.query_one("PRAGMA user_version");
    const int64_t version = row ? row->i("user_version") : 0;
    CANTER_CHECK(version <= kSchemaVersion, Unsupported,
                 "database schema version " << version << " is newer than this canter ("
                                            << kSchemaVersion << "); upgrade canter");
    if (version < 1) {
        db.transaction([&] {
            db.exec(kSchemaV1);
            db.exec("PRAGMA user_version = 1");
        });
    }
    if (version < 2) {
        db.transaction([&] {
            db.exec(kSchemaV2);
            db.exec("PRAGMA user_version = 2");
        });
    }
    if (version < 3) {
        db.transaction([&] {
            db.exec(kSchemaV3);
            db.exec("PRAGMA user_version = 3");
        });
    }
}

}  // namespace canter::server
