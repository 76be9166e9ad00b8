// The distilled model's update (upstream video_generate.py `step_ddim`, cfg_number = 1):
// jump to the x0-prediction and re-noise it to the next sigma with fresh noise.
#pragma once

#include <ATen/core/Tensor.h>

#include "pipeline/samplers/flow_schedule.h"

namespace canter::pipeline {

// x_{k+1} = sigma_{k+1}*noise + (1 - sigma_{k+1})*(x_k - sigma_k*v_k), indexed by the step
// index k. `noise` has the sample's shape; on the last step (sigma_N = 0) it is drawn but
// has no effect, and the result is exactly the x0-prediction.
at::Tensor step_ddim(const FlowSchedule& schedule, int k, const at::Tensor& velocity,
                     const at::Tensor& sample, const at::Tensor& noise);

}  // namespace canter::pipeline
