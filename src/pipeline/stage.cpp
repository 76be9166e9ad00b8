#include "pipeline/stage.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <string>

#include "pipeline/samplers/distilled.h"
#include "pipeline/samplers/flow_schedule.h"
#include "pipeline/samplers/sde.h"
#include "pipeline/samplers/unipc.h"
#include "util/check.h"

namespace canter::pipeline {
namespace {

struct Velocity {
    at::Tensor video, audio;
};

Velocity predict_velocity(const dit::DitModel& model, const at::Tensor& video,
                          const at::Tensor& audio, const TextCondition& text,
                          const DataProxyConfig& proxy) {
    const PackedInput packed = pack(video, audio, text.features, text.length, proxy);
    const dit::DitOutput out = model.forward(packed.seq);
    return {unpack_video(out.video, packed.geometry, proxy),
            unpack_audio(out.audio, packed.geometry)};
}

// Out of place: the previous step's output (already handed to the caller) stays untouched.
at::Tensor inject_image(const at::Tensor& video, const at::Tensor& image) {
    if (!image.defined()) return video;
    at::Tensor out = video.clone();
    out.narrow(2, 0, 1).copy_(image.narrow(2, 0, 1));
    return out;
}

void check_text(const TextCondition& t, const char* what) {
    CANTER_CHECK(t.features.defined() && t.features.dim() == 3 && t.features.size(0) == 1,
                 InvalidArgument,
                 what << " features must be [1, N, C], got "
                      << (t.features.defined() ? t.features.sizes() : at::IntArrayRef{}));
    CANTER_CHECK(t.length >= 1 && t.length <= t.features.size(1), InvalidArgument,
                 what << " length " << t.length << " outside [1, " << t.features.size(1) << "]");
}

void check_inputs(const StageConfig& config, const StageConditioning& cond,
                  const StageLatents& start) {
    CANTER_CHECK(config.steps >= 1, InvalidArgument,
                 "stage steps must be >= 1, got " << config.steps);
    CANTER_CHECK(config.cfg_number == 1 || config.cfg_number == 2, InvalidArgument,
                 "cfg_number must be 1 or 2, got " << config.cfg_number);
    CANTER_CHECK(start.video.defined() && start.video.dim() == 5 && start.video.size(0) == 1,
                 InvalidArgument,
                 "stage video latent must be [1, C, T, H, W], got "
                     << (start.video.defined() ? start.video.sizes() : at::IntArrayRef{}));
    CANTER_CHECK(start.audio.defined() && start.audio.dim() == 3 && start.audio.size(0) == 1,
                 InvalidArgument,
                 "stage audio latent must be [1, A, C], got "
                     << (start.audio.defined() ? start.audio.sizes() : at::IntArrayRef{}));
    check_text(cond.text, "text");
    if (config.cfg_number == 2) check_text(cond.negative_text, "negative text (cfg_number 2)");
    if (cond.image_latent.defined()) {
        const auto& v = start.video;
        const auto& im = cond.image_latent;
        CANTER_CHECK(im.dim() == 5 && im.size(0) == 1 && im.size(1) == v.size(1) &&
                         im.size(2) >= 1 && im.size(3) == v.size(3) && im.size(4) == v.size(4),
                     InvalidArgument,
                     "image latent " << im.sizes() << " does not fit the video latent " << v.sizes()
                                     << " (need [1, C, >=1, H, W])");
    }
}

}  // namespace

StageConfig StageConfig::base(int steps, int cfg_number) {
    StageConfig c;
    c.kind = StageKind::kBase;
    c.steps = steps;
    c.cfg_number = cfg_number;
    return c;
}

StageConfig StageConfig::super_resolution(int steps, int cfg_number) {
    StageConfig c;
    c.kind = StageKind::kSuperResolution;
    c.steps = steps;
    c.cfg_number = cfg_number;
    c.proxy = DataProxyConfig::sr_default();
    return c;
}

StageLatents run_stage(const dit::DitModel& model, const StageConfig& config,
                       const StageConditioning& cond, const StageLatents& start, NoiseSource& noise,
                       const StepCallback& on_step) {
    check_inputs(config, cond, start);
    const c10::Device device = model.options().device;
    auto on_device = [&](const at::Tensor& t) {
        return t.defined() ? t.to(device, at::kFloat) : t;
    };
    const bool sr = config.kind == StageKind::kSuperResolution;
    const bool cfg = config.cfg_number == 2;
    const TextCondition text{on_device(cond.text.features), cond.text.length};
    const TextCondition negative{on_device(cond.negative_text.features), cond.negative_text.length};
    const at::Tensor image = on_device(cond.image_latent);

    const FlowSchedule schedule = flow_schedule(config.steps, config.shift);
    // Which update each modality gets (spec §6.6): SR always UniPC on video, audio fixed.
    const bool distilled = !sr && !cfg;
    const bool sde = !sr && cfg && config.use_sde;
    std::optional<UniPCMultistep> video_solver, audio_solver;
    if (!distilled && !sde) {
        video_solver.emplace(schedule);
        if (!sr) audio_solver.emplace(schedule);
    }
    const at::Tensor sr_scale =
        sr && cfg ? on_device(sr_video_scale(config.guidance, start.video.size(2))) : at::Tensor();

    at::Tensor video = on_device(start.video);
    at::Tensor audio = on_device(start.audio);
    for (int k = 0; k < schedule.steps(); ++k) {
        StepRecord rec;
        rec.index = k;
        rec.steps = schedule.steps();
        rec.timestep = schedule.timesteps[k];
        rec.sigma = schedule.sigmas[k];
        video = inject_image(video, image);
        rec.model_in_video = video;
        rec.model_in_audio = audio;

        const Velocity c = predict_velocity(model, video, audio, text, config.proxy);
        rec.v_cond_video = c.video;
        rec.v_cond_audio = c.audio;
        if (cfg) {
            const Velocity u = predict_velocity(model, video, audio, negative, config.proxy);
            rec.v_uncond_video = u.video;
            rec.v_uncond_audio = u.audio;
            rec.v_cfg_video =
                sr ? apply_cfg(c.video, u.video, sr_scale)
                   : apply_cfg(c.video, u.video, base_video_scale(config.guidance, rec.timestep));
            if (!sr) rec.v_cfg_audio = apply_cfg(c.audio, u.audio, config.guidance.audio_scale);
        } else {
            rec.v_cfg_video = c.video;
            if (!sr) rec.v_cfg_audio = c.audio;
        }

        if (distilled || sde) {
            const std::string prefix =
                std::string(distilled ? "ddim_noise." : "sde_noise.") + std::to_string(k);
            const at::Tensor nv = noise.draw(prefix + ".video", video.sizes()).to(device);
            const at::Tensor na = noise.draw(prefix + ".audio", audio.sizes()).to(device);
            const auto update = distilled ? step_ddim : step_sde;
            video = update(schedule, k, rec.v_cfg_video, video, nv);
            audio = update(schedule, k, rec.v_cfg_audio, audio, na);
            rec.latent_audio_after = audio;
        } else {
            video = video_solver->step(rec.v_cfg_video, video);
            if (audio_solver) {
                audio = audio_solver->step(rec.v_cfg_audio, audio);
                rec.latent_audio_after = audio;
            }
        }
        rec.latent_video_after = video;
        if (on_step && !on_step(rec)) {
            CANTER_THROW(Cancelled,
                         "sampling cancelled after step " << k + 1 << " of " << schedule.steps());
        }
    }
    return {inject_image(video, image), audio};
}

int64_t latent_size_for_pixels(int64_t pixels) {
    CANTER_CHECK(pixels >= 32, InvalidArgument, "pixel size must be >= 32, got " << pixels);
    return pixels / 16 / 2 * 2;
}

SrStart prepare_sr_start(const StageLatents& base, int64_t sr_height, int64_t sr_width,
                         const SrRenoiseConfig& renoise, NoiseSource& noise) {
    CANTER_CHECK(base.video.defined() && base.video.dim() == 5 && base.video.size(0) == 1,
                 InvalidArgument,
                 "SR: base video latent must be [1, C, T, H, W], got "
                     << (base.video.defined() ? base.video.sizes() : at::IntArrayRef{}));
    CANTER_CHECK(base.audio.defined() && base.audio.dim() == 3, InvalidArgument,
                 "SR: base audio latent must be [1, A, C]");
    CANTER_CHECK(sr_height >= 1 && sr_width >= 1, InvalidArgument,
                 "SR latent size must be positive, got " << sr_height << "x" << sr_width);
    CANTER_CHECK(renoise.audio_noise_scale >= 0 && renoise.audio_noise_scale <= 1, InvalidArgument,
                 "sr_audio_noise_scale must be in [0, 1], got " << renoise.audio_noise_scale);
    const at::Tensor video = base.video.to(at::kFloat);
    const int64_t T = video.size(2);
    SrStart s;
    // Time size unchanged (an exact copy along T); only H and W are interpolated.
    s.upsampled_video =
        at::upsample_trilinear3d(video, {T, sr_height, sr_width}, /*align_corners=*/true,
                                 c10::nullopt, c10::nullopt, c10::nullopt);
    s.latents.video = s.upsampled_video;
    if (renoise.noise_value != 0) {
        // Variance preserving c*x + sqrt(1-c^2)*eps, scalars in fp32 as upstream.
        const float c = zero_snr_coefficient(renoise.noise_value);
        const float n = std::sqrt(1.0f - c * c);
        s.noise_coefficient = c;
        const at::Tensor eps =
            noise.draw("sr_noise.video", s.upsampled_video.sizes()).to(video.device());
        s.latents.video = s.upsampled_video * static_cast<double>(c) + eps * static_cast<double>(n);
    }
    const at::Tensor audio = base.audio.to(at::kFloat);
    const at::Tensor eps_a = noise.draw("sr_noise.audio", audio.sizes()).to(audio.device());
    s.latents.audio = eps_a * renoise.audio_noise_scale + audio * (1.0 - renoise.audio_noise_scale);
    return s;
}

StageLatents super_resolve(const dit::DitModel& model, const StageConfig& config,
                           const SrRenoiseConfig& renoise, const StageConditioning& cond,
                           const StageLatents& base, int64_t sr_height, int64_t sr_width,
                           NoiseSource& noise, const StepCallback& on_step) {
    CANTER_CHECK(config.kind == StageKind::kSuperResolution, InvalidArgument,
                 "super_resolve needs a StageConfig of kind kSuperResolution");
    const SrStart start = prepare_sr_start(base, sr_height, sr_width, renoise, noise);
    const StageLatents out = run_stage(model, config, cond, start.latents, noise, on_step);
    return {out.video, base.audio};
}

}  // namespace canter::pipeline
