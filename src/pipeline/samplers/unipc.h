// FlowUniPC multistep solver as upstream configures it (scheduler_unipc.py
// `FlowUniPCMultistepScheduler`: solver_order 2, predict_x0, solver_type "bh2",
// lower_order_final, corrector on every step but the first). Spec: pipeline.md §6.2.
#pragma once

#include <ATen/core/Tensor.h>

#include "pipeline/samplers/flow_schedule.h"

namespace canter::pipeline {

class UniPCMultistep {
  public:
    explicit UniPCMultistep(FlowSchedule schedule);

    // Advances one step: `velocity` is the model's (guided) velocity for `sample`, the
    // latent the model saw at the current step. Returns the next latent. The step index is
    // counted here (upstream looks the timestep up, which breaks on repeated timesteps).
    at::Tensor step(const at::Tensor& velocity, const at::Tensor& sample);

    int step_index() const { return step_index_; }
    bool done() const { return step_index_ >= schedule_.steps(); }
    const FlowSchedule& schedule() const { return schedule_; }

  private:
    float lambda(int k) const;  // ln(1 - sigma_k) - ln(sigma_k), fp32; sigma_k > 0
    at::Tensor correct(const at::Tensor& m_k) const;
    at::Tensor predict(const at::Tensor& x, int order) const;

    FlowSchedule schedule_;
    int step_index_ = 0;
    int lower_order_nums_ = 0;
    int this_order_ = 0;      // order of the previous predictor (= order of this corrector)
    at::Tensor m_newest_;     // x0-prediction history: m[-1]
    at::Tensor m_older_;      // m[-2]
    at::Tensor last_sample_;  // sample the previous predictor started from
};

}  // namespace canter::pipeline
