// Classifier-free guidance (upstream video_generate.py `evaluate_with_latent`, EvaluationConfig):
// v = v_uncond + scale*(v_cond - v_uncond). No rescale, no CFG-zero. Spec §6.5.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace canter::pipeline {

struct GuidanceConfig {
    // Base stage.
    double video_scale = 5.0;       // video_txt_guidance_scale, while timestep > switch
    double video_scale_late = 2.0;  // upstream literal for timestep <= switch
    int64_t video_switch_timestep = 500;
    double audio_scale = 5.0;  // audio_txt_guidance_scale, every step
    // SR stage: per latent frame, no timestep switch.
    double sr_video_scale = 3.5;  // sr_video_txt_guidance_scale
    bool use_cfg_trick = true;    // frames < cfg_trick_start_frame get min(value, scale)
    int64_t cfg_trick_start_frame = 13;
    double cfg_trick_value = 2.0;
};

// Base-stage video scale at integer timestep t.
double base_video_scale(const GuidanceConfig& g, int64_t timestep);

// SR video scale [1, 1, frames, 1, 1] float32 (the "cfg trick" lowers the first frames).
at::Tensor sr_video_scale(const GuidanceConfig& g, int64_t frames);

// v_uncond + scale*(v_cond - v_uncond) with a scalar or a broadcastable tensor scale.
at::Tensor apply_cfg(const at::Tensor& v_cond, const at::Tensor& v_uncond, double scale);
at::Tensor apply_cfg(const at::Tensor& v_cond, const at::Tensor& v_uncond, const at::Tensor& scale);

}  // namespace canter::pipeline
