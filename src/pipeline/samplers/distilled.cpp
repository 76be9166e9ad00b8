#include "pipeline/samplers/distilled.h"

#include <ATen/ATen.h>

#include "util/check.h"

namespace canter::pipeline {

at::Tensor step_ddim(const FlowSchedule& schedule, int k, const at::Tensor& velocity,
                     const at::Tensor& sample, const at::Tensor& noise) {
    CANTER_CHECK(k >= 0 && k < schedule.steps(), InvalidArgument,
                 "step_ddim: step index " << k << " outside [0, " << schedule.steps() << ")");
    CANTER_CHECK(
        velocity.sizes() == sample.sizes() && noise.sizes() == sample.sizes(), InvalidArgument,
        "step_ddim: velocity " << velocity.sizes() << ", noise " << noise.sizes() << " and sample "
                               << sample.sizes() << " must have one shape");
    const double sigma = schedule.sigmas[k];
    const float sigma_next = schedule.sigmas[k + 1];
    const at::Tensor x0 = sample - velocity * sigma;
    return noise * static_cast<double>(sigma_next) + x0 * static_cast<double>(1.0f - sigma_next);
}

}  // namespace canter::pipeline
