// LocalEngine: implements include/canter/engine.h on top of the pipeline pieces, following
// upstream `MagiEvaluator.evaluate` (pipeline.md §2.4): text -> (image) -> noise -> base stage
// -> (SR stage) -> video decode -> audio decode + resample -> MP4.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unistd.h>

#include "canter/engine.h"
#include "canter/version.h"
#include "io/media/image_prep.h"
#include "io/media/image_reader.h"
#include "io/media/mp4_writer.h"
#include "io/media/png_writer.h"
#include "io/media/wav_writer.h"
#include "models/audio_vae/audio_vae.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "models/wan_vae/wan_vae.h"
#include "pipeline/demo_model.h"
#include "pipeline/geometry.h"
#include "pipeline/model_manifest.h"
#include "pipeline/negative_prompt.h"
#include "pipeline/postprocess.h"
#include "pipeline/progress_tracker.h"
#include "pipeline/samplers/noise_source.h"
#include "pipeline/stage.h"
#include "pipeline/speech_language.h"
#include "pipeline/text_conditioning.h"
#include "tensor/compat.h"
#include "util/check.h"
#include "util/json_file.h"

namespace canter {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kTextTargetLength = 640;
constexpr int kSrSteps = 5;
// Spatial tiles for the decoders above this latent size (memory at 540p/1080p; exact for
// TurboVAED thanks to its halo).
constexpr int64_t kDecodeTileLatent = 64;

struct ResolvedOptions {
    c10::Device device = c10::Device(c10::kCPU);
    dit::Precision precision = dit::Precision::kFP32;
};

ResolvedOptions resolve_options(const EngineOptions& o) {
    ResolvedOptions r;
    if (o.device == "auto") {
        r.device = at::hasCUDA() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    } else {
        try {
            r.device = c10::Device(o.device);
        } catch (const std::exception&) {
            CANTER_THROW(InvalidArgument, "device must be auto, cpu, cuda or cuda:N, got '" << o.device << "'");
        }
        CANTER_CHECK(!r.device.is_cuda() || at::hasCUDA(), Unsupported,
                     "device '" << o.device << "' requested but this build/machine has no CUDA");
    }
    if (o.precision == "auto") {
        r.precision = r.device.is_cuda() ? dit::Precision::kBF16 : dit::Precision::kFP32;
    } else {
        r.precision = dit::parse_precision(o.precision);
    }
    set_cpu_threads(o.threads);  // 0: every core (ATen's own default can be 1)
    return r;
}

// Checks up front that `path` can be created, so a long run never ends in "cannot write".
void check_output_path(const std::string& path, const std::string& what) {
    if (path.empty()) return;
    const fs::path p = fs::absolute(path);
    CANTER_CHECK(!fs::is_directory(p), InvalidArgument, what << " '" << path << "' is a directory");
    const fs::path dir = p.parent_path();
    CANTER_CHECK(fs::is_directory(dir), IO, what << " '" << path << "': folder " << dir.string() << " does not exist");
    CANTER_CHECK(::access(dir.c_str(), W_OK) == 0, IO,
                 what << " '" << path << "': folder " << dir.string() << " is not writable");
}

// True when `dir` holds a demo model written by this version of canter.
bool demo_model_is_current(const std::string& dir) {
    std::ifstream in(fs::path(dir) / pipeline::kManifestFileName);
    if (!in.good()) return false;
    try {
        nlohmann::json j;
        in >> j;
        return j.value("demo_version", 0) == demo_model_version();
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

class LocalEngine : public Engine {
public:
    LocalEngine(pipeline::ModelManifest manifest, const ResolvedOptions& options)
        : manifest_(std::move(manifest)), options_(options) {
        load_core();
    }

    ModelInfo info() const override {
        ModelInfo info;
        info.dir = manifest_.dir;
        info.name = manifest_.name;
        info.demo = manifest_.demo;
        info.resolutions = manifest_.resolutions();
        info.components = manifest_.describe();
        return info;
    }

    GenerateResult generate(const GenerateRequest& request, const ProgressCallback& progress,
                            const std::atomic<bool>* cancel) override;

private:
    void load_core();
    dit::DitModel load_dit(const pipeline::ComponentRef& ref, bool sr_1080p) const;
    const dit::DitModel& sr_model(pipeline::Resolution r);
    const wan_vae::WanVae& image_encoder();
    pipeline::TextCondition negative_text(const std::string& negative_prompt);
    at::Tensor encode_image(const at::Tensor& rgb, const pipeline::StageGeometry& g);

    pipeline::ModelManifest manifest_;
    ResolvedOptions options_;
    std::optional<t5gemma::T5GemmaEncoder> text_encoder_;
    std::optional<t5gemma::Tokenizer> tokenizer_;
    std::optional<dit::DitModel> base_dit_;
    bool base_is_distilled_ = true;
    std::optional<dit::DitModel> sr_540p_, sr_1080p_;
    std::optional<wan_vae::WanVae> wan_;  // image encoder (+ decoder when there is no TurboVAED)
    std::optional<turbo_vaed::TurboVaed> turbo_;
    std::optional<audio_vae::AudioVae> audio_;
    std::optional<pipeline::TextCondition> default_negative_;
};

dit::DitModel LocalEngine::load_dit(const pipeline::ComponentRef& ref, bool sr_1080p) const {
    const std::string dir = ref.path.empty() ? fs::path(ref.weights).parent_path().string() : ref.path;
    auto config = dit::DitConfig::from_model_dir(dir);
    if (!ref.arch.is_null()) config.apply(ref.arch);
    // The 1080p SR checkpoint runs local attention (upstream: only when SR2_1080 is set).
    if (sr_1080p && config.local_attn_layers.empty() && config.num_layers == 40)
        config.local_attn_layers = pipeline::sr_1080p_local_attn_layers();
    config.validate();
    dit::DitOptions o;
    o.precision = options_.precision;
    o.device = options_.device;
    return dit::DitModel::load(ref.weights.empty() ? ref.path : ref.weights, config, o);
}

void LocalEngine::load_core() {
    t5gemma::T5GemmaOptions to;
    to.precision = options_.precision;
    to.device = options_.device;
    text_encoder_ = t5gemma::T5GemmaEncoder::load(manifest_.text_encoder->path, to);
    tokenizer_ = t5gemma::Tokenizer::load(manifest_.tokenizer->path);

    base_is_distilled_ = manifest_.dit_distill.has_value();
    base_dit_ = load_dit(base_is_distilled_ ? *manifest_.dit_distill : *manifest_.dit_base, false);
    CANTER_CHECK(base_dit_->config().text_in_channels == text_encoder_->config().hidden_size, InvalidArgument,
                 manifest_.dir << ": the DiT reads " << base_dit_->config().text_in_channels
                               << "-wide text features but the text encoder produces "
                               << text_encoder_->config().hidden_size);

    if (manifest_.turbo_vaed) {
        turbo_vaed::TurboVaedOptions o;
        o.device = options_.device;
        o.bf16_rounding = options_.precision == dit::Precision::kBF16;
        o.tile_latent_size = kDecodeTileLatent;
        const auto& ref = *manifest_.turbo_vaed;
        if (!ref.config.empty()) {
            turbo_ = turbo_vaed::TurboVaed::load(ref.weights.empty() ? ref.path : ref.weights,
                                                 turbo_vaed::TurboVaedConfig::from_json(read_json_file(ref.config)), o);
        } else {
            turbo_ = turbo_vaed::TurboVaed::load_dir(ref.path, o);
        }
    } else {
        image_encoder();  // the Wan decoder is the video decoder: load it now
    }
    audio_vae::AudioVaeOptions ao;
    ao.device = options_.device;
    ao.load_encoder = false;
    audio_ = audio_vae::AudioVae::load(manifest_.audio_vae->path, ao);
}

const dit::DitModel& LocalEngine::sr_model(pipeline::Resolution r) {
    if (r == pipeline::Resolution::k540p) {
        CANTER_CHECK(manifest_.dit_sr_540p, InvalidArgument,
                     "resolution 540p needs the 540p super-resolution DiT, which model '" << manifest_.name
                                                                                          << "' does not have");
        if (!sr_540p_) sr_540p_ = load_dit(*manifest_.dit_sr_540p, false);
        return *sr_540p_;
    }
    CANTER_CHECK(manifest_.dit_sr_1080p, InvalidArgument,
                 "resolution 1080p needs the 1080p super-resolution DiT, which model '" << manifest_.name
                                                                                        << "' does not have");
    if (!sr_1080p_) sr_1080p_ = load_dit(*manifest_.dit_sr_1080p, true);
    return *sr_1080p_;
}

const wan_vae::WanVae& LocalEngine::image_encoder() {
    if (!wan_) {
        CANTER_CHECK(manifest_.video_vae, InvalidArgument,
                     "model '" << manifest_.name << "' has no video_vae: reference images cannot be encoded");
        wan_vae::WanVaeOptions o;
        o.device = options_.device;
        o.bf16_rounding = options_.precision == dit::Precision::kBF16;
        o.load_decoder = !manifest_.turbo_vaed.has_value();
        o.tile_latent_size = kDecodeTileLatent;
        const auto& ref = *manifest_.video_vae;
        wan_ = ref.weights.empty() ? wan_vae::WanVae::load_dir(ref.path, o)
                                   : wan_vae::WanVae::load(ref.weights, wan_vae::WanVaeConfig::from_model_dir(ref.path), o);
    }
    return *wan_;
}

pipeline::TextCondition LocalEngine::negative_text(const std::string& negative_prompt) {
    auto encode = [&](const std::string& text) {
        auto e = pipeline::encode_prompt(*text_encoder_, *tokenizer_, text, kTextTargetLength);
        return pipeline::TextCondition{e.context, e.length};
    };
    if (!negative_prompt.empty()) return encode(negative_prompt);
    if (!default_negative_) {
        default_negative_ = encode(manifest_.negative_prompt.empty() ? pipeline::default_negative_prompt()
                                                                     : manifest_.negative_prompt);
    }
    return *default_negative_;
}

// Upstream encode_image (pipeline.md §5): centre crop + Lanczos to the stage size, [-1, 1],
// Wan2.2 encoder mean, normalised -> [1, 48, 1, h, w].
at::Tensor LocalEngine::encode_image(const at::Tensor& rgb, const pipeline::StageGeometry& g) {
    const auto video = media::prepare_reference_image(rgb, g.height, g.width);
    return image_encoder().encode(video.to(options_.device)).to(at::kFloat);
}

GenerateResult LocalEngine::generate(const GenerateRequest& request, const ProgressCallback& progress,
                                     const std::atomic<bool>* cancel) {
    request.validate();
    tensor::InferenceGuard guard;
    const auto resolution = pipeline::parse_resolution(request.resolution);
    const auto geo = pipeline::compute_geometry(request.seconds, resolution, pipeline::parse_aspect(request.aspect_ratio));
    if (geo.has_sr) sr_model(resolution);  // fail fast (and load) before any work
    check_output_path(request.output_path, "output");
    check_output_path(request.wav_path, "WAV output");
    check_output_path(request.contact_sheet_path, "contact sheet");
    const bool with_image = !request.image_path.empty();
    at::Tensor image_rgb;
    if (with_image) image_rgb = media::read_image_rgb(request.image_path);  // bad file: fail before work

    const int base_steps = request.steps > 0 ? request.steps : (base_is_distilled_ ? 8 : 32);
    const int base_cfg = base_is_distilled_ ? 1 : 2;
    std::vector<std::pair<std::string, double>> phases = {{"text", 0.03}};
    if (with_image) phases.push_back({"image", 0.03});
    phases.push_back({"base", 0.55});
    if (geo.has_sr) phases.push_back({"sr", 0.25});
    phases.push_back({"decode", 0.1});
    if (request.audio) phases.push_back({"audio", 0.02});
    phases.push_back({"mux", 0.02});
    pipeline::ProgressTracker tracker(progress, phases);

    GenerateResult result;
    result.seed = request.seed;
    result.demo_model = manifest_.demo;
    if (base_cfg == 1 && (!request.negative_prompt.empty() || request.guidance > 0 || request.audio_guidance > 0))
        result.warnings.push_back("the distilled model runs without classifier-free guidance: negative prompt and "
                                  "guidance are not used");
    auto check_cancel = [&] {
        CANTER_CHECK(!(cancel && cancel->load()), Cancelled, "generation cancelled");
    };
    auto timed = [&](const std::string& stage, auto&& fn) {
        const double t0 = tracker.elapsed_s();
        fn();
        result.timings_s[stage] = tracker.elapsed_s() - t0;
        tracker.finish(stage);
        check_cancel();
    };

    // 1. text
    pipeline::StageConditioning cond;
    timed("text", [&] {
        tracker.begin("text", 0, "encoding the prompt");
        // The speech language is named in the prompt, as upstream's enhanced prompts do.
        const std::string prompt = pipeline::prompt_with_speech_language(request.prompt, request.language);
        auto e = pipeline::encode_prompt(*text_encoder_, *tokenizer_, prompt, kTextTargetLength);
        if (e.truncated) {
            result.warnings.push_back("prompt has " + std::to_string(e.token_count) + " tokens; the model reads the first " +
                                      std::to_string(kTextTargetLength));
        }
        cond.text = {e.context.to(options_.device), e.length};
        if (base_cfg == 2) {
            auto n = negative_text(request.negative_prompt);
            cond.negative_text = {n.features.to(options_.device), n.length};
        }
    });

    // 2. reference image at the base size
    if (with_image) {
        timed("image", [&] {
            tracker.begin("image", 0, "encoding the reference image");
            cond.image_latent = encode_image(image_rgb, geo.base);
        });
    }

    // 3. noise (upstream order: audio first, then video) and the base stage
    pipeline::SeededNoise noise(static_cast<uint64_t>(request.seed));
    const auto z_dim = base_dit_->config().video_in_channels / 4;  // patch 1x2x2
    const auto audio_channels = base_dit_->config().audio_in_channels;
    pipeline::StageLatents start;
    start.audio = noise.draw("latent_audio", {1, geo.audio_latents, audio_channels}).to(options_.device);
    start.video = noise.draw("latent_video", {1, z_dim, geo.latent_frames, geo.base.latent_h, geo.base.latent_w})
                      .to(options_.device);
    auto on_step = [&](const std::string& stage) {
        return [&, stage](const pipeline::StepRecord& r) {
            tracker.step(r.index + 1, "denoising " + std::to_string(r.index + 1) + "/" + std::to_string(r.steps));
            return !(cancel && cancel->load());
        };
    };
    pipeline::StageLatents latents;
    timed("base", [&] {
        tracker.begin("base", base_steps,
                      std::string(base_is_distilled_ ? "distilled" : "base") + " stage at " +
                          std::to_string(geo.base.width) + "x" + std::to_string(geo.base.height));
        auto config = pipeline::StageConfig::base(base_steps, base_cfg);
        if (request.guidance > 0) config.guidance.video_scale = request.guidance;
        if (request.audio_guidance > 0) config.guidance.audio_scale = request.audio_guidance;
        latents = pipeline::run_stage(*base_dit_, config, cond, start, noise, on_step("base"));
    });

    // 4. super-resolution
    if (geo.has_sr) {
        timed("sr", [&] {
            tracker.begin("sr", kSrSteps,
                          "super-resolution to " + std::to_string(geo.sr.width) + "x" + std::to_string(geo.sr.height));
            pipeline::StageConditioning sr_cond;
            sr_cond.text = cond.text;
            if (with_image) sr_cond.image_latent = encode_image(image_rgb, geo.sr);
            auto config = pipeline::StageConfig::super_resolution(kSrSteps, 1);
            latents = pipeline::super_resolve(sr_model(resolution), config, pipeline::SrRenoiseConfig{}, sr_cond,
                                              latents, geo.sr.latent_h, geo.sr.latent_w, noise, on_step("sr"));
        });
    }

    // 5. video decode
    at::Tensor frames;
    timed("decode", [&] {
        tracker.begin("decode", 0, "decoding video");
        at::Tensor video = turbo_ ? turbo_->decode(latents.video) : image_encoder().decode(latents.video);
        frames = pipeline::frames_to_uint8(video.to(at::kCPU));
    });
    result.frames = static_cast<int>(frames.size(0));
    result.height = static_cast<int>(frames.size(1));
    result.width = static_cast<int>(frames.size(2));
    result.video_seconds = static_cast<double>(result.frames) / pipeline::kFps;

    // 6. audio: Oobleck decode on the 51.2 kHz time base, FFT-resample to 44.1 kHz
    at::Tensor wave;
    if (request.audio) {
        timed("audio", [&] {
            tracker.begin("audio", 0, "decoding audio");
            const auto raw = audio_->decode(latents.audio[0].t()).to(at::kCPU).to(at::kFloat)[0];  // [2, 2048 A]
            wave = pipeline::resample_fft(raw, geo.audio_samples_out);
        });
        result.audio_sample_rate = pipeline::kOutputSampleRate;
    }

    // 7. files: side files first, the MP4 last; any failure removes what this call wrote
    timed("mux", [&] {
        tracker.begin("mux", 0, "writing " + request.output_path);
        std::vector<std::string> written;
        try {
            if (!request.wav_path.empty() && wave.defined()) {
                media::write_wav(request.wav_path, wave, pipeline::kOutputSampleRate);
                written.push_back(request.wav_path);
            }
            if (!request.contact_sheet_path.empty()) {
                media::write_contact_sheet_png(request.contact_sheet_path, frames);
                written.push_back(request.contact_sheet_path);
            }
            check_cancel();
            media::write_mp4(request.output_path, frames, wave, pipeline::kOutputSampleRate);
        } catch (...) {
            std::error_code ec;
            for (const auto& p : written) fs::remove(p, ec);
            throw;
        }
    });
    result.output_path = request.output_path;
    tracker.done();
    return result;
}

}  // namespace

std::unique_ptr<Engine> Engine::open(const EngineOptions& options) {
    const auto resolved = resolve_options(options);
    std::string dir = options.model_dir;
    if (dir.empty()) {
        dir = default_demo_model_dir();
        if (!demo_model_is_current(dir)) make_demo_model(dir);
    }
    return std::make_unique<LocalEngine>(pipeline::ModelManifest::load(dir), resolved);
}

}  // namespace canter
