#include "server/queue/worker_pool.h"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "canter/error.h"
#include "server/queue/live_jobs.h"
#include "server/request_json.h"
#include "server/store/files.h"

namespace canter::server {

EngineFactory default_engine_factory(const std::string& model_dir) {
    EngineOptions base;
    base.model_dir = model_dir;
    return default_engine_factory(base);
}

EngineFactory default_engine_factory(const EngineOptions& base) {
    return [base](const std::string& device) {
        EngineOptions options = base;
        options.device = device;
        return Engine::open(options);
    };
}

WorkerPool::WorkerPool(JobStore& store, LiveJobs& live, const JobFiles& files, EngineFactory factory,
                       std::vector<std::string> devices, FinishedCallback on_finished)
    : store_(store), live_(live), files_(files), factory_(std::move(factory)),
      devices_(std::move(devices)), on_finished_(std::move(on_finished)) {
    if (devices_.empty()) devices_.push_back("auto");
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
    for (const auto& device : devices_) {
        engines_.push_back(factory_(device));
        if (engines_.size() == 1) info_ = engines_.front()->info();
    }
    for (size_t k = 0; k < devices_.size(); ++k) threads_.emplace_back([this, k] { run(k); });
}

void WorkerPool::stop() {
    if (stopping_.exchange(true)) return;
    live_.cancel_all();
    notify();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void WorkerPool::notify() {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
}

void WorkerPool::run(size_t index) {
    const std::string name = "worker" + std::to_string(index) + "@" + devices_[index];
    while (!stopping_) {
        std::optional<Job> job;
        try {
            job = store_.claim_next(name);
        } catch (const std::exception& e) {
            std::cerr << "canter serve: " << name << ": cannot claim a job: " << e.what() << "\n";
        }
        if (!job) {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait_for(lock, std::chrono::milliseconds(500));
            continue;
        }
        live_.notify();
        execute(*engines_[index], *job);
        if (auto done = store_.get(job->id); done && on_finished_ && is_terminal(done->status)) {
            try {
                on_finished_(*done);
            } catch (const std::exception& e) {
                std::cerr << "canter serve: after job " << job->id << ": " << e.what() << "\n";
            }
        }
    }
}

void WorkerPool::execute(Engine& engine, const Job& job) {
    auto cancel = live_.begin(job.id);
    live_.log(job.id, "started on " + job.worker + " (attempt " + std::to_string(job.attempts) + ")");
    try {
        GenerateRequest request = request_from_json(nlohmann::json::parse(job.request_json));
        const std::string dir = files_.job_dir(job.id);
        std::filesystem::create_directories(dir);
        if (!request.image_path.empty()) request.image_path = dir + "/" + request.image_path;
        request.output_path = files_.output_path(job.id);
        const GenerateResult r = engine.generate(
            request, [&](const Progress& p) { live_.update(job.id, p); }, cancel.get());
        // What the engine kept, loaded or streamed for this job: in the job's log, and on
        // stderr when it differs from the previous job's plan.
        for (const auto& line : r.memory_plan) live_.log(job.id, "memory: " + line);
        for (const auto& st : r.streaming)
            live_.log(job.id, "memory: " + st.stage + " stage streamed " + std::to_string(st.bytes_read / 1000000) +
                                  " MB; compute waited " + std::to_string(st.wait_s) + " s for weights");
        {
            std::lock_guard<std::mutex> lock(plan_mutex_);
            if (r.memory_plan != last_plan_) {
                for (const auto& line : r.memory_plan) std::cerr << "canter serve: memory: " << line << "\n";
                last_plan_ = r.memory_plan;
            }
        }
        nlohmann::json result = {
            {"seed", r.seed},         {"width", r.width},
            {"height", r.height},     {"frames", r.frames},
            {"video_seconds", r.video_seconds}, {"audio_sample_rate", r.audio_sample_rate},
            {"demo_model", r.demo_model}, {"timings_s", r.timings_s},
            {"file_size", static_cast<int64_t>(std::filesystem::file_size(request.output_path))}};
        files_.write(job.id, "meta.json",
                     nlohmann::json{{"id", job.id}, {"request", request_to_json(request)}, {"result", result}}.dump(2));
        if (!store_.complete(job.id, result.dump()))
            std::cerr << "canter serve: " << job.id << " finished but was no longer running; its state is kept\n";
    } catch (const Error& e) {
        if (e.code() == ErrorCode::kCancelled && stopping_) {
            store_.requeue(job.id);  // shutdown, not the client: run it again after restart
        } else if (e.code() == ErrorCode::kCancelled) {
            store_.finish_unsuccessful(job.id, JobStatus::kCancelled, "cancelled by the client");
        } else {
            store_.finish_unsuccessful(job.id, JobStatus::kFailed,
                                       std::string(error_code_name(e.code())) + ": " + e.what());
        }
    } catch (const std::exception& e) {
        store_.finish_unsuccessful(job.id, JobStatus::kFailed, std::string("internal: ") + e.what());
    }
    live_.end(job.id);
}

}  // namespace canter::server
