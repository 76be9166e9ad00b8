// The job-store schema (docs/server.md describes it) and its migrations.
#pragma once

namespace canter::server {

class Db;

constexpr int kSchemaVersion = 3;

// Brings the database to kSchemaVersion (PRAGMA user_version); idempotent.
void migrate(Db& db);

}  // namespace canter::server
