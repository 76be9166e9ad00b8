// Durable job records: submission (charging credits under the key's quotas), FIFO-per-priority
// claiming by workers, completion with refunds, cancel, delete, retention and restart recovery.
//
// States: queued -> running -> succeeded | failed | cancelled; queued -> cancelled.
// Every transition is one SQL statement or transaction, so a crash never leaves a half state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canter::server {

class Db;

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
const char* job_status_name(JobStatus s);  // "queued", ...
JobStatus parse_job_status(const std::string& s);
bool is_terminal(JobStatus s);

struct Job {
    int64_t seq = 0;
    std::string id;
    int64_t key_id = 0;
    std::string api;    // "queue" or "openai"
    std::string model;
    JobStatus status = JobStatus::kQueued;
    int priority = 0;
    std::string request_json;  // the normalized request (see http/request_json.h)
    std::string result_json;   // GenerateResult as JSON, once succeeded
    std::string error;
    int64_t cost = 0;
    bool refunded = false;
    std::string webhook_url;
    std::string file_token;
    int attempts = 0;
    std::string worker;
    double created_at = 0, started_at = 0, finished_at = 0, deleted_at = 0;
};

struct NewJob {
    std::string id;  // empty: generated
    int64_t key_id = 0;
    std::string api = "queue";
    std::string model = "canter";
    int priority = 0;
    std::string request_json;
    int64_t cost = 0;
    std::string webhook_url;
};

// Per-key limits checked atomically with the insert.
struct Quotas {
    int max_active = 4;     // queued + running jobs per key (429 beyond)
    int max_per_day = 200;  // submissions per key in any 24 h window (429 beyond)
};

struct RecoveryReport {
    std::vector<std::string> requeued, failed;
};

class JobStore {
public:
    explicit JobStore(Db& db) : db_(db) {}

    // Charges `cost` credits and inserts the job, or throws ApiError 402/429 and changes nothing.
    Job submit(const NewJob& job, const Quotas& quotas);
    std::optional<Job> get(const std::string& id);
    // Jobs of one key, newest first; `before_seq` > 0 pages (exclusive). Deleted jobs excluded.
    std::vector<Job> list(int64_t key_id, int limit, int64_t before_seq = 0);
    // 0-based number of queued jobs ahead of this one (higher priority first, then FIFO).
    int queue_position(const Job& job);

    // Atomically moves the next queued job to running for `worker`; nullopt when none.
    std::optional<Job> claim_next(const std::string& worker);
    // Both finish a *running* job and return whether it was running: a job that already ended
    // (or was never claimed) keeps its state, so a late or duplicate call changes nothing.
    bool complete(const std::string& id, const std::string& result_json);
    // failed or cancelled: stores the reason and refunds the credits once.
    bool finish_unsuccessful(const std::string& id, JobStatus status, const std::string& error);
    // queued -> cancelled (with refund). False if the job was no longer queued.
    bool cancel_if_queued(const std::string& id);
    // running -> queued without counting the attempt (the server is shutting down).
    void requeue(const std::string& id);
    void mark_deleted(const std::string& id);
    // Finished jobs whose outputs are older than `before` and not yet deleted.
    std::vector<Job> expired(double before);

    // After a restart: running jobs are re-queued while attempts < max_attempts, else failed
    // with a reason. Nothing is dropped.
    RecoveryReport recover(int max_attempts);

private:
    Db& db_;
};

}  // namespace canter::server
