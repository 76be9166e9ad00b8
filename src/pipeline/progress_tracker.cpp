#include "pipeline/progress_tracker.h"

#include <algorithm>

namespace canter::pipeline {

ProgressTracker::ProgressTracker(ProgressCallback callback, std::vector<std::pair<std::string, double>> phases)
    : callback_(std::move(callback)), phases_(std::move(phases)), t0_(std::chrono::steady_clock::now()) {
    double total = 0;
    for (const auto& p : phases_) total += p.second;
    if (total > 0)
        for (auto& p : phases_) p.second /= total;
}

double ProgressTracker::elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

double ProgressTracker::start_of(const std::string& stage) const {
    double f = 0;
    for (const auto& p : phases_) {
        if (p.first == stage) return f;
        f += p.second;
    }
    return fraction_;
}

double ProgressTracker::weight_of(const std::string& stage) const {
    for (const auto& p : phases_)
        if (p.first == stage) return p.second;
    return 0;
}

void ProgressTracker::begin(const std::string& stage, int steps, const std::string& message) {
    stage_ = stage;
    step_ = 0;
    steps_ = steps;
    fraction_ = std::max(fraction_, start_of(stage));
    emit(message);
}

void ProgressTracker::step(int done, const std::string& message) {
    step_ = done;
    if (steps_ > 0)
        fraction_ = std::max(fraction_, start_of(stage_) + weight_of(stage_) * static_cast<double>(done) / steps_);
    emit(message);
}

void ProgressTracker::finish(const std::string& stage) {
    fraction_ = std::max(fraction_, start_of(stage) + weight_of(stage));
}

void ProgressTracker::done() {
    stage_ = "done";
    step_ = steps_ = 0;
    fraction_ = 1;
    emit("done");
}

void ProgressTracker::emit(const std::string& message) {
    if (!callback_) return;
    Progress p;
    p.stage = stage_;
    p.step = step_;
    p.steps = steps_;
    p.fraction = std::min(1.0, fraction_);
    p.elapsed_s = elapsed_s();
    // Extrapolate once a meaningful share is done; before that the load/text phases dominate.
    p.eta_s = p.fraction >= 0.05 && p.fraction < 1 ? p.elapsed_s * (1 - p.fraction) / p.fraction
                                                   : (p.fraction >= 1 ? 0 : -1);
    p.message = message;
    callback_(p);
}

}  // namespace canter::pipeline
