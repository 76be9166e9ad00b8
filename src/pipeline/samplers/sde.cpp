#include "pipeline/samplers/sde.h"

#include <ATen/ATen.h>

#include "util/check.h"

namespace canter::pipeline {

int sde_theta(int k, int n) {
    CANTER_CHECK(k >= 0 && k < n, InvalidArgument,
                 "SDE: step index " << k << " outside [0, " << n << ")");
    const int switch_at = static_cast<int>(0.75 * n);
    if (k < switch_at) return k % 2 == 1 ? 1 : 0;
    return k % 3 == 0 ? 1 : 0;
}

at::Tensor step_sde(const FlowSchedule& schedule, int k, const at::Tensor& velocity,
                    const at::Tensor& sample, const at::Tensor& noise) {
    const int n = schedule.steps();
    CANTER_CHECK(k >= 0 && k < n, InvalidArgument,
                 "step_sde: step index " << k << " outside [0, " << n << ")");
    CANTER_CHECK(
        velocity.sizes() == sample.sizes() && noise.sizes() == sample.sizes(), InvalidArgument,
        "step_sde: velocity " << velocity.sizes() << ", noise " << noise.sizes() << " and sample "
                              << sample.sizes() << " must have one shape");
    // theta is 0 or 1, so cos/sin(theta*pi/2) are exactly (1, 0) or (0, 1).
    const bool stochastic = sde_theta(k, n) == 1;
    const double c = stochastic ? 0.0 : 1.0;
    const double s = stochastic ? 1.0 : 0.0;
    const double sigma = schedule.sigmas[k];
    const double sigma_next = schedule.sigmas[k + 1];
    const at::Tensor x0 = sample - velocity * sigma;
    at::Tensor mean = x0 * (1.0 - sigma_next + sigma_next * c) + velocity * (sigma_next * c);
    if (s == 0.0) return mean;
    return mean + noise * (sigma_next * s);
}

}  // namespace canter::pipeline
