#include "server/queue/live_jobs.h"

#include "server/store/db.h"

namespace canter::server {

std::shared_ptr<std::atomic<bool>> LiveJobs::begin(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& e = jobs_[id];
    e.cancel = std::make_shared<std::atomic<bool>>(pending_cancel_.erase(id) > 0);
    e.state = LiveSnapshot{};
    e.state.progress.stage = "load";
    ++version_;
    changed_.notify_all();
    return e.cancel;
}

void LiveJobs::update(const std::string& id, const Progress& progress) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    auto& st = it->second.state;
    if (!progress.message.empty() && (progress.message != st.progress.message || progress.stage != st.progress.stage)) {
        st.logs.push_back({"[" + progress.stage + "] " + progress.message, now_seconds()});
        if (st.logs.size() > 500) st.logs.erase(st.logs.begin());
    }
    st.progress = progress;
    ++version_;
    changed_.notify_all();
}

void LiveJobs::log(const std::string& id, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    it->second.state.logs.push_back({message, now_seconds()});
    ++version_;
    changed_.notify_all();
}

void LiveJobs::end(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.erase(id);
    ++version_;
    changed_.notify_all();
}

std::optional<LiveSnapshot> LiveJobs::snapshot(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second.state;
}

bool LiveJobs::request_cancel(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        pending_cancel_.insert(id);
        return false;
    }
    it->second.cancel->store(true);
    it->second.state.logs.push_back({"cancellation requested", now_seconds()});
    ++version_;
    changed_.notify_all();
    return true;
}

void LiveJobs::cancel_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, e] : jobs_) e.cancel->store(true);
}

uint64_t LiveJobs::version() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return version_;
}

uint64_t LiveJobs::wait_change(uint64_t seen, int timeout_ms) const {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return version_ != seen; });
    return version_;
}

void LiveJobs::notify() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++version_;
    changed_.notify_all();
}

}  // namespace canter::server
