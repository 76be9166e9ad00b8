// In-memory state of running jobs: latest progress, log lines, and the cancel flag the engine
// polls. Status reads come here instead of the database, so polling never contends with the
// worker's writes. Waiters (SSE streams) block on change().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "canter/engine.h"

namespace canter::server {

struct LogLine {
    std::string message;
    double timestamp = 0;
};

struct LiveSnapshot {
    Progress progress;
    std::vector<LogLine> logs;
};

class LiveJobs {
public:
    // A worker starts a job: returns the flag to pass to Engine::generate (already set when a
    // cancel arrived between claim and start).
    std::shared_ptr<std::atomic<bool>> begin(const std::string& id);
    void update(const std::string& id, const Progress& progress);
    void log(const std::string& id, const std::string& message);
    void end(const std::string& id);
    std::optional<LiveSnapshot> snapshot(const std::string& id) const;

    // Sets the job's cancel flag, or remembers the request until begin(). True if it was running.
    bool request_cancel(const std::string& id);
    void cancel_all();  // shutdown

    // A counter bumped by every change; wait until it differs from `seen` or `timeout_ms` passes.
    uint64_t version() const;
    uint64_t wait_change(uint64_t seen, int timeout_ms) const;
    void notify();  // a job changed state elsewhere (store) - wake waiters

private:
    struct Entry {
        LiveSnapshot state;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    mutable std::mutex mutex_;  // guards jobs_, pending_cancel_, version_
    mutable std::condition_variable changed_;
    std::map<std::string, Entry> jobs_;
    std::set<std::string> pending_cancel_;
    uint64_t version_ = 0;
};

}  // namespace canter::server
