#include "pipeline/samplers/guidance.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "util/check.h"

namespace canter::pipeline {

double base_video_scale(const GuidanceConfig& g, int64_t timestep) {
    return timestep > g.video_switch_timestep ? g.video_scale : g.video_scale_late;
}

at::Tensor sr_video_scale(const GuidanceConfig& g, int64_t frames) {
    CANTER_CHECK(frames >= 1, InvalidArgument,
                 "SR guidance: latent frame count must be >= 1, got " << frames);
    at::Tensor scale = at::full({1, 1, frames, 1, 1}, g.sr_video_scale, at::kFloat);
    if (g.use_cfg_trick) {
        CANTER_CHECK(g.cfg_trick_start_frame >= 0, InvalidArgument,
                     "cfg_trick_start_frame must be >= 0, got " << g.cfg_trick_start_frame);
        const int64_t n = std::min(g.cfg_trick_start_frame, frames);
        if (n > 0) scale.narrow(2, 0, n).fill_(std::min(g.cfg_trick_value, g.sr_video_scale));
    }
    return scale;
}

at::Tensor apply_cfg(const at::Tensor& v_cond, const at::Tensor& v_uncond, double scale) {
    CANTER_CHECK(v_cond.sizes() == v_uncond.sizes(), InvalidArgument,
                 "CFG: v_cond " << v_cond.sizes() << " and v_uncond " << v_uncond.sizes()
                                << " differ in shape");
    return v_uncond + (v_cond - v_uncond) * scale;
}

at::Tensor apply_cfg(const at::Tensor& v_cond, const at::Tensor& v_uncond,
                     const at::Tensor& scale) {
    CANTER_CHECK(v_cond.sizes() == v_uncond.sizes(), InvalidArgument,
                 "CFG: v_cond " << v_cond.sizes() << " and v_uncond " << v_uncond.sizes()
                                << " differ in shape");
    return v_uncond + scale.to(v_cond.device()) * (v_cond - v_uncond);
}

}  // namespace canter::pipeline
