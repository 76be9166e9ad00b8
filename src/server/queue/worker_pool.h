// Workers bound to devices: one thread and one canter::Engine per device, each claiming the next
// queued job (priority, then FIFO) from the store, running it with progress into LiveJobs, and
// recording the outcome. The engine factory is the server's only seam to the engine.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "canter/engine.h"
#include "server/store/job_store.h"

namespace canter::server {

class JobFiles;
class LiveJobs;

// Opens the engine for one device ("cpu", "cuda:0", "auto").
using EngineFactory = std::function<std::unique_ptr<Engine>(const std::string& device)>;
// Engine::open with the given model folder (empty: the built-in demo model).
EngineFactory default_engine_factory(const std::string& model_dir);
// Engine::open with `base` (model folder, memory budgets) on each worker's device.
EngineFactory default_engine_factory(const EngineOptions& base);

class WorkerPool {
public:
    // Called (on the worker thread) after every job reaches a terminal state.
    using FinishedCallback = std::function<void(const Job&)>;

    WorkerPool(JobStore& store, LiveJobs& live, const JobFiles& files, EngineFactory factory,
               std::vector<std::string> devices, FinishedCallback on_finished);
    ~WorkerPool();

    // Opens one engine per device (throws if one fails) and starts the threads.
    void start();
    // Interrupts running jobs (they go back to the queue) and joins the threads.
    void stop();
    void notify();  // a job was queued
    ModelInfo model_info() const { return info_; }
    size_t size() const { return devices_.size(); }

private:
    void run(size_t index);
    void execute(Engine& engine, const Job& job);

    JobStore& store_;
    LiveJobs& live_;
    const JobFiles& files_;
    EngineFactory factory_;
    std::vector<std::string> devices_;
    FinishedCallback on_finished_;
    ModelInfo info_;
    std::mutex plan_mutex_;
    std::vector<std::string> last_plan_;  // the memory plan last printed
    std::vector<std::unique_ptr<Engine>> engines_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;  // guards the wake-up of idle workers (cv_)
    std::condition_variable cv_;
};

}  // namespace canter::server
