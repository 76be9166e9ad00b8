// One denoising stage over the DiT (upstream video_generate.py `evaluate_with_latent`), and
// the preparation of the super-resolution stage's start latents (`evaluate`, SR block).
// Spec: pipeline.md §2.5, §2.7, §6.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "models/dit/dit_model.h"
#include "pipeline/packing.h"
#include "pipeline/samplers/guidance.h"
#include "pipeline/samplers/noise_source.h"

namespace canter::pipeline {

enum class StageKind {
    kBase,             // cfg 1: step_ddim on video and audio; cfg 2: UniPC (or SDE) on both
    kSuperResolution,  // UniPC on video only; the audio input stays fixed
};

struct StageConfig {
    StageKind kind = StageKind::kBase;
    int steps = 8;
    double shift = 5.0;
    int cfg_number = 1;    // 1: conditional pass only; 2: + negative-prompt pass and CFG
    bool use_sde = false;  // base stage with cfg 2 only: step_sde instead of UniPC
    GuidanceConfig guidance;
    DataProxyConfig proxy;  // packing of the stage's model (SR: coords v1)

    static StageConfig base(int steps, int cfg_number);              // coords v2
    static StageConfig super_resolution(int steps, int cfg_number);  // coords v1
};

// Text features [1, N, C] of which the first `length` rows are real.
struct TextCondition {
    at::Tensor features;
    int64_t length = 0;
};

struct StageConditioning {
    TextCondition text;
    TextCondition negative_text;  // required when cfg_number == 2
    // Optional [1, C, >=1, H, W] latent of the reference image (TI2V): its frame 0 replaces
    // the video latent's frame 0 before every model call and after the last step.
    at::Tensor image_latent;
};

struct StageLatents {
    at::Tensor video;  // [1, C, T, H, W] float32
    at::Tensor audio;  // [1, A, Ca] float32
};

// Everything one step saw and produced. v_uncond_* are undefined when cfg_number == 1; in an
// SR stage v_cfg_audio and latent_audio_after are undefined (audio is not updated).
struct StepRecord {
    int index = 0;
    int steps = 0;
    int64_t timestep = 0;
    float sigma = 0;
    at::Tensor model_in_video, model_in_audio;
    at::Tensor v_cond_video, v_cond_audio;
    at::Tensor v_uncond_video, v_uncond_audio;
    at::Tensor v_cfg_video, v_cfg_audio;
    at::Tensor latent_video_after, latent_audio_after;
};

// Called after every step (progress, recording). Return false to stop: the stage then
// throws canter::Error with code kCancelled. The record's tensors are not reused later.
using StepCallback = std::function<bool(const StepRecord&)>;

// Runs `config.steps` steps from `start` (not modified). Noise is drawn only by the
// distilled/SDE updates: per step "ddim_noise.{k}.video" then "...audio" (SDE: "sde_noise").
// Returns the final latents; in an SR stage the audio is `start.audio` unchanged.
StageLatents run_stage(const dit::DitModel& model, const StageConfig& config,
                       const StageConditioning& cond, const StageLatents& start, NoiseSource& noise,
                       const StepCallback& on_step = nullptr);

// --- super-resolution start ---------------------------------------------------------------

struct SrRenoiseConfig {
    int noise_value = 220;           // ZeroSNR table index; 0 skips the video re-noise
    double audio_noise_scale = 0.7;  // sr_audio_noise_scale
};

struct SrStart {
    at::Tensor upsampled_video;   // base latent, trilinear (align_corners) to [1, C, T, h2, w2]
    StageLatents latents;         // what enters the SR loop: re-noised video, noised audio
    float noise_coefficient = 1;  // zsnr[noise_value] (1 when skipped)
};

// Latent size of a pixel size: px // 16 // 2 * 2 (pixel sizes rounded down to multiples of 32).
int64_t latent_size_for_pixels(int64_t pixels);

// Upsamples the base latent to (sr_height, sr_width) latent pixels and builds the SR stage's
// inputs. Draws "sr_noise.video" (if noise_value != 0), then "sr_noise.audio".
SrStart prepare_sr_start(const StageLatents& base, int64_t sr_height, int64_t sr_width,
                         const SrRenoiseConfig& renoise, NoiseSource& noise);

// prepare_sr_start + run_stage; the returned audio is the base audio (the SR model's audio
// input is only a condition).
StageLatents super_resolve(const dit::DitModel& model, const StageConfig& config,
                           const SrRenoiseConfig& renoise, const StageConditioning& cond,
                           const StageLatents& base, int64_t sr_height, int64_t sr_width,
                           NoiseSource& noise, const StepCallback& on_step = nullptr);

}  // namespace canter::pipeline
