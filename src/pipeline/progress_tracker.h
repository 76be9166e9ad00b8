// Turns "stage X, step i of n" into Progress events with a whole-job fraction and an ETA.
// Each planned phase has a weight (its expected share of the run time); the ETA extrapolates
// the elapsed time over the finished fraction.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "canter/engine.h"

namespace canter::pipeline {

class ProgressTracker {
public:
    // phases: (stage name, relative weight), in execution order.
    ProgressTracker(ProgressCallback callback, std::vector<std::pair<std::string, double>> phases);

    void begin(const std::string& stage, int steps, const std::string& message);
    void step(int done, const std::string& message);
    void finish(const std::string& stage);  // marks the phase done (fraction jumps to its end)
    void done();
    double elapsed_s() const;

private:
    void emit(const std::string& message);
    double start_of(const std::string& stage) const;
    double weight_of(const std::string& stage) const;

    ProgressCallback callback_;
    std::vector<std::pair<std::string, double>> phases_;  // weights normalised to sum 1
    std::chrono::steady_clock::time_point t0_;
    std::string stage_;
    int step_ = 0, steps_ = 0;
    double fraction_ = 0;
};

}  // namespace canter::pipeline
