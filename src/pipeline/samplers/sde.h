// Optional stochastic update (upstream video_generate.py `step_sde`, `using_sde_flag`), used
// only in a base stage with cfg_number = 2. Upstream crashes computing its theta schedule
// (it multiplies the whole timestep tensor by 0.75); this is the intended rule. Spec §6.4.
#pragma once

#include <ATen/core/Tensor.h>

#include "pipeline/samplers/flow_schedule.h"

namespace canter::pipeline {

// theta for step k of n: while k < int(0.75*n), 1 on odd k else 0; afterwards 1 when k % 3 == 0.
int sde_theta(int k, int n);

// With c = cos(theta*pi/2), s = sin(theta*pi/2), x0 = x - sigma_k*v:
// x_{k+1} = (1 - sigma_{k+1} + sigma_{k+1}*c)*x0 + sigma_{k+1}*c*v + sigma_{k+1}*s*noise.
// theta 0 is the Euler ODE step, theta 1 equals step_ddim.
at::Tensor step_sde(const FlowSchedule& schedule, int k, const at::Tensor& velocity,
                    const at::Tensor& sample, const at::Tensor& noise);

}  // namespace canter::pipeline
