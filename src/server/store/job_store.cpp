#include "server/store/job_store.h"

#include "server/api_error.h"
#include "server/auth/sha256.h"
#include "server/store/db.h"
#include "util/check.h"

namespace canter::server {
namespace {

Job from_row(const DbRow& r) {
    Job j;
    j.seq = r.i("seq");
    j.id = r.s("id");
    j.key_id = r.i("key_id");
    j.api = r.s("api");
    j.model = r.s("model");
    j.status = parse_job_status(r.s("status"));
    j.priority = static_cast<int>(r.i("priority"));
    j.request_json = r.s("request_json");
    j.result_json = r.s("result_json");
    j.error = r.s("error");
    j.cost = r.i("cost");
    j.refunded = r.i("refunded") != 0;
    j.webhook_url = r.s("webhook_url");
    j.file_token = r.s("file_token");
    j.attempts = static_cast<int>(r.i("attempts"));
    j.worker = r.s("worker");
    j.created_at = r.d("created_at");
    j.started_at = r.d("started_at");
    j.finished_at = r.d("finished_at");
    j.deleted_at = r.d("deleted_at");
    return j;
}

void refund_locked(Db& db, const std::string& id) {
    auto r = db.query_one("SELECT key_id, cost, refunded FROM jobs WHERE id = ?", {id});
    if (!r || r->i("refunded") || r->i("cost") == 0) return;
    db.run("UPDATE api_keys SET credits = credits + ? WHERE id = ?", {r->i("cost"), r->i("key_id")});
    db.run("UPDATE jobs SET refunded = 1 WHERE id = ?", {id});
}

}  // namespace

const char* job_status_name(JobStatus s) {
    switch (s) {
        case JobStatus::kQueued: return "queued";
        case JobStatus::kRunning: return "running";
        case JobStatus::kSucceeded: return "succeeded";
        case JobStatus::kFailed: return "failed";
        case JobStatus::kCancelled: return "cancelled";
    }
    return "unknown";
}

JobStatus parse_job_status(const std::string& s) {
    if (s == "queued") return JobStatus::kQueued;
    if (s == "running") return JobStatus::kRunning;
    if (s == "succeeded") return JobStatus::kSucceeded;
    if (s == "failed") return JobStatus::kFailed;
    if (s == "cancelled") return JobStatus::kCancelled;
    CANTER_THROW(Corruption, "unknown job status '" << s << "' in the job store");
}

bool is_terminal(JobStatus s) {
    return s == JobStatus::kSucceeded || s == JobStatus::kFailed || s == JobStatus::kCancelled;
}

Job JobStore::submit(const NewJob& job, const Quotas& quotas) {
    const std::string id = job.id.empty() ? "req_" + random_id() : job.id;
    const double now = now_seconds();
    db_.transaction([&] {
        auto key = db_.query_one("SELECT credits FROM api_keys WHERE id = ?", {job.key_id});
        CANTER_CHECK(key.has_value(), Internal, "job for unknown key id " << job.key_id);
        const int64_t active = db_.query_one(
            "SELECT COUNT(*) AS n FROM jobs WHERE key_id = ? AND status IN ('queued','running')",
            {job.key_id})->i("n");
        if (active >= quotas.max_active)
            throw ApiError(429, "too_many_active_jobs",
                           "this key already has " + std::to_string(active) +
                               " queued or running jobs (limit " + std::to_string(quotas.max_active) + ")");
        const int64_t today = db_.query_one(
            "SELECT COUNT(*) AS n FROM jobs WHERE key_id = ? AND created_at > ?",
            {job.key_id, now - 86400.0})->i("n");
        if (today >= quotas.max_per_day)
            throw ApiError(429, "daily_quota_exceeded",
                           "this key submitted " + std::to_string(today) + " jobs in the last 24 h (limit " +
                               std::to_string(quotas.max_per_day) + ")");
        const int64_t credits = key->i("credits");
        if (credits < job.cost)
            throw ApiError(402, "insufficient_credits",
                           "this job costs " + std::to_string(job.cost) + " credits; the key has " +
                               std::to_string(credits));
        db_.run("UPDATE api_keys SET credits = credits - ? WHERE id = ?", {job.cost, job.key_id});
        db_.run("INSERT INTO jobs(id, key_id, api, model, status, priority, request_json, cost, webhook_url,"
                " file_token, created_at) VALUES(?,?,?,?,'queued',?,?,?,?,?,?)",
                {id, job.key_id, job.api, job.model, int64_t(job.priority), job.request_json, job.cost,
                 job.webhook_url.empty() ? DbValue(nullptr) : DbValue(job.webhook_url), random_hex(16), now});
    });
    return *get(id);
}

std::optional<Job> JobStore::get(const std::string& id) {
    auto r = db_.query_one("SELECT * FROM jobs WHERE id = ?", {id});
    if (!r) return std::nullopt;
    return from_row(*r);
}

std::vector<Job> JobStore::list(int64_t key_id, int limit, int64_t before_seq) {
    std::vector<Job> out;
    for (const auto& r : db_.query("SELECT * FROM jobs WHERE key_id = ? AND deleted_at IS NULL AND (? = 0 OR seq < ?)"
                                   " ORDER BY seq DESC LIMIT ?",
                                   {key_id, before_seq, before_seq, int64_t(limit)}))
        out.push_back(from_row(r));
    return out;
}

int JobStore::queue_position(const Job& job) {
    return static_cast<int>(db_.query_one(
        "SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued' AND (priority > ? OR (priority = ? AND seq < ?))",
        {int64_t(job.priority), int64_t(job.priority), job.seq})->i("n"));
}

std::optional<Job> JobStore::claim_next(const std::string& worker) {
    auto r = db_.query_one(
        "UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1, worker = ?"
        " WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY priority DESC, seq LIMIT 1)"
        " RETURNING *",
        {now_seconds(), worker});
    if (!r) return std::nullopt;
    return from_row(*r);
}

bool JobStore::complete(const std::string& id, const std::string& result_json) {
    return db_.run("UPDATE jobs SET status = 'succeeded', result_json = ?, finished_at = ?"
                   " WHERE id = ? AND status = 'running'",
                   {result_json, now_seconds(), id}) > 0;
}

bool JobStore::finish_unsuccessful(const std::string& id, JobStatus status, const std::string& error) {
    CANTER_CHECK(status == JobStatus::kFailed || status == JobStatus::kCancelled, Internal,
                 "finish_unsuccessful with status " << job_status_name(status));
    bool finished = false;
    db_.transaction([&] {
        finished = db_.run("UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
                           {std::string(job_status_name(status)), error, now_seconds(), id}) > 0;
        if (finished) refund_locked(db_, id);
    });
    return finished;
}

bool JobStore::cancel_if_queued(const std::string& id) {
    bool cancelled = false;
    db_.transaction([&] {
        cancelled = db_.run("UPDATE jobs SET status = 'cancelled', error = 'cancelled by the client',"
                            " finished_at = ? WHERE id = ? AND status = 'queued'",
                            {now_seconds(), id}) > 0;
        if (cancelled) refund_locked(db_, id);
    });
    return cancelled;
}

void JobStore::requeue(const std::string& id) {
    db_.run("UPDATE jobs SET status = 'queued', worker = NULL, started_at = NULL,"
            " attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = 'running'", {id});
}

void JobStore::mark_deleted(const std::string& id) {
    db_.run("UPDATE jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", {now_seconds(), id});
}

std::vector<Job> JobStore::expired(double before) {
    std::vector<Job> out;
    for (const auto& r : db_.query("SELECT * FROM jobs WHERE deleted_at IS NULL AND finished_at IS NOT NULL"
                                   " AND finished_at < ?", {before}))
        out.push_back(from_row(r));
    return out;
}

RecoveryReport JobStore::recover(int max_attempts) {
    RecoveryReport report;
    db_.transaction([&] {
        for (const auto& r : db_.query("SELECT id, attempts FROM jobs WHERE status = 'running'")) {
            const std::string id = r.s("id");
            if (r.i("attempts") < max_attempts) {
                db_.run("UPDATE jobs SET status = 'queued', worker = NULL, started_at = NULL WHERE id = ?", {id});
                report.requeued.push_back(id);
            } else {
                db_.run("UPDATE jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                        {now_seconds(),
                         "the server stopped while this job was running (" + std::to_string(r.i("attempts")) +
                             " attempts); not retried again",
                         id});
                refund_locked(db_, id);
                report.failed.push_back(id);
            }
        }
    });
    return report;
}

}  // namespace canter::server
