#include "pipeline/samplers/flow_schedule.h"

#include <ATen/ATen.h>

#include <cmath>

#include "util/check.h"

namespace canter::pipeline {

at::Tensor FlowSchedule::sigmas_tensor() const {
    return at::tensor(at::ArrayRef<float>(sigmas), at::kFloat);
}

at::Tensor FlowSchedule::timesteps_tensor() const {
    return at::tensor(at::ArrayRef<int64_t>(timesteps), at::kLong);
}

FlowSchedule flow_schedule(int steps, double shift) {
    CANTER_CHECK(steps >= 1, InvalidArgument, "sampling steps must be >= 1, got " << steps);
    CANTER_CHECK(shift > 0 && std::isfinite(shift), InvalidArgument,
                 "schedule shift must be a positive number, got " << shift);
    // Training table: sigma = 1 - linspace(1, 1/1000, 1000) reversed, stored as fp32; its first
    // entry 0.999 read back as a double is sigma_max, its last (0) sigma_min.
    const double sigma_max = static_cast<double>(static_cast<float>(1.0 - 0.001));
    const double sigma_min = 0.0;
    // numpy linspace(sigma_max, sigma_min, N+1)[:-1]: y_i = i*step + start (fp64).
    const double step = (sigma_min - sigma_max) / steps;
    FlowSchedule s;
    s.sigmas.reserve(steps + 1);
    s.timesteps.reserve(steps);
    for (int i = 0; i < steps; ++i) {
        const double base = i * step + sigma_max;
        const double sigma = shift * base / (1.0 + (shift - 1.0) * base);
        // timesteps come from the fp64 sigmas; only the stored sigma array is fp32.
        s.timesteps.push_back(static_cast<int64_t>(sigma * 1000.0));
        s.sigmas.push_back(static_cast<float>(sigma));
    }
    s.sigmas.push_back(0.0f);  // final_sigmas_type "zero"
    return s;
}

std::vector<float> zero_snr_table(int num_timesteps) {
    CANTER_CHECK(num_timesteps >= 2, InvalidArgument,
                 "ZeroSNR table needs >= 2 timesteps, got " << num_timesteps);
    // Betas linear in sqrt(beta) (torch.linspace in fp64, squared), cumulative product in fp64
    // (numpy), then fp32 from the sqrt on, as upstream's discretization does.
    const at::Tensor betas =
        at::linspace(std::pow(0.00085, 0.5), std::pow(0.012, 0.5), num_timesteps, at::kDouble)
            .pow(2)
            .contiguous();
    const double* b = betas.data_ptr<double>();
    std::vector<float> q(num_timesteps);
    double cumprod = 1.0;
    for (int i = 0; i < num_timesteps; ++i) {
        cumprod *= 1.0 - b[i];
        q[i] = std::sqrt(static_cast<float>(cumprod));
    }
    const float q0 = q.front(), qT = q.back();
    const float scale = q0 / (q0 - qT);
    for (float& v : q) v = (v - qT) * scale;
    return q;
}

float zero_snr_coefficient(int noise_value) {
    static const std::vector<float> table = zero_snr_table(1000);
    CANTER_CHECK(noise_value >= 0 && noise_value < static_cast<int>(table.size()), InvalidArgument,
                 "noise_value must be in [0, " << table.size() - 1 << "], got " << noise_value);
    return table[noise_value];
}

}  // namespace canter::pipeline
