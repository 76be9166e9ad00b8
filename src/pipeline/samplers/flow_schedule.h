// Noise schedules of the samplers (upstream scheduler_unipc.py `FlowUniPCMultistepScheduler`
// `__init__`/`set_timesteps`, and video_generate.py `ZeroSNRDDPMDiscretization`).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace canter::pipeline {

// The shifted flow-matching table of one sampling run: N steps, N+1 sigmas (last = 0).
struct FlowSchedule {
    std::vector<float> sigmas;       // N+1 values, fp32 as upstream stores them, sigmas[N] = 0
    std::vector<int64_t> timesteps;  // N values, int64(sigma*1000) truncated (fp64 sigma)

    int steps() const { return static_cast<int>(timesteps.size()); }
    at::Tensor sigmas_tensor() const;     // [N+1] float32
    at::Tensor timesteps_tensor() const;  // [N] int64
};

// `set_timesteps(steps, shift)` with the default training table (1000 steps, sigma_max 0.999
// as fp32, sigma_min 0) and final sigma 0. Bit-exact with upstream's numpy/fp64 arithmetic.
FlowSchedule flow_schedule(int steps, double shift);

// ZeroSNR signal coefficients indexed by DDPM timestep 0..num_timesteps-1 (table[0] ~ 0.99957,
// table[999] = 0), fp32 exactly as upstream computes them. Used as c*x + sqrt(1-c^2)*noise.
std::vector<float> zero_snr_table(int num_timesteps = 1000);

// zero_snr_table()[noise_value] with a range check naming the field.
float zero_snr_coefficient(int noise_value);

}  // namespace canter::pipeline
