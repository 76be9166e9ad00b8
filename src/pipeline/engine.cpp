// LocalEngine: implements include/canter/engine.h on top of the pipeline pieces, following
// upstream `MagiEvaluator.evaluate` (pipeline.md §2.4): text -> (image) -> noise -> base stage
// -> (SR stage) -> video decode -> audio decode + resample -> MP4.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include "canter/engine.h"
#include "canter/version.h"
#include "io/checkpoint.h"
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
#include "pipeline/memory_plan.h"
#include "pipeline/model_manifest.h"
#include "pipeline/negative_prompt.h"
#include "pipeline/postprocess.h"
#include "pipeline/progress_tracker.h"
#include "pipeline/random_model.h"
#include "pipeline/samplers/noise_source.h"
#include "pipeline/stage.h"
#include "pipeline/speech_language.h"
#include "pipeline/text_conditioning.h"
#include "tensor/compat.h"
#include "tensor/device_info.h"
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
    bool precision_auto = false;  // "auto": decided from the DiT checkpoint's dtype (see open)
    uint64_t budget = 0;          // bytes the plan may use on the compute device
    std::string budget_source;    // "--max-memory", "available RAM", ...
    bool always_stream = false;   // --stream-layers always
    uint64_t already_used = 0;    // RSS before any model, counted against an explicit budget
};

// Working memory of one DiT forward over `tokens` packed tokens: the residual stream and the
// layer's temporaries (qkv, attention out, the MLP's up projection and activation), fp32.
uint64_t dit_working_bytes(const dit::DitConfig& c, int64_t tokens) {
    int64_t up = 0;
    for (int i = 0; i < c.num_layers; ++i) up = std::max<int64_t>(up, c.mlp_up_rows(i));
    return static_cast<uint64_t>(tokens) * (static_cast<uint64_t>(c.hidden_size) * 4 * 12 + static_cast<uint64_t>(up) * 4 * 3);
}
constexpr uint64_t kTextWorkingBytes = 256ull << 20;
// A decoder's working memory: its fp32 output times a few (the last blocks' activations are a
// few times wider than RGB), capped where the tiled decode bounds it.
uint64_t decoder_working_bytes(const pipeline::Geometry& geo) {
    const auto& g = geo.output();
    const uint64_t out = static_cast<uint64_t>(geo.video_frames) * g.width * g.height * 3 * 4;
    return std::clamp<uint64_t>(out * 4, 64ull << 20, 1536ull << 20);
}

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
        r.precision_auto = true;
    } else {
        r.precision = dit::parse_precision(o.precision);
    }
    if (r.device.is_cuda()) {
        r.budget_source = o.max_vram.empty() ? "free GPU memory" : "--max-vram";
        r.budget = o.max_vram.empty() ? tensor::device_memory_free(r.device)
                                      : pipeline::parse_byte_size(o.max_vram, "--max-vram");
    } else {
        r.budget_source = o.max_memory.empty() ? "available RAM" : "--max-memory";
        r.budget = o.max_memory.empty() ? pipeline::host_memory_available()
                                        : pipeline::parse_byte_size(o.max_memory, "--max-memory");
    }
    if (!o.max_memory.empty()) pipeline::parse_byte_size(o.max_memory, "--max-memory");  // validate on GPU too
    CANTER_CHECK(o.stream_layers == "auto" || o.stream_layers == "always", InvalidArgument,
                 "--stream-layers must be auto or always, got '" << o.stream_layers << "'");
    r.always_stream = o.stream_layers == "always";
    set_cpu_threads(o.threads);  // 0: every core (ATen's own default can be 1)
    // What the process holds before any model (LibTorch, the CUDA context): part of an explicit
    // host budget; available RAM already excludes it, and GPU budgets do not see it.
    if (!r.device.is_cuda() && !o.max_memory.empty()) r.already_used = pipeline::process_resident_bytes();
    return r;
}

uint64_t peak_rss_bytes() {
    struct rusage u {};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<uint64_t>(u.ru_maxrss) * 1024;  // KiB on Linux
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
        open_components();
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
    // A loaded model and whether its layers stream (the plan may ask for the other mode).
    template <typename Model>
    struct Slot {
        std::optional<Model> model;
        bool streamed = false;
    };

    void open_components();
    const pipeline::ComponentRef& base_ref() const;
    std::optional<pipeline::ComponentRef> sr_ref(pipeline::Resolution r) const;
    std::string dit_weights(const pipeline::ComponentRef& ref) const;
    dit::DitConfig dit_config(const pipeline::ComponentRef& ref, bool sr_1080p) const;
    dit::DitModel load_dit(const pipeline::ComponentRef& ref, bool sr_1080p, bool stream) const;
    t5gemma::T5GemmaOptions text_options(bool stream) const;

    pipeline::MemoryPlan plan_for(const pipeline::Geometry& geo, bool with_image, bool with_audio);
    bool streamed(const std::string& role) const;
    // Loaders: each brings its component into the mode the current plan says.
    t5gemma::T5GemmaEncoder& text_encoder();
    dit::DitModel& base_dit();
    dit::DitModel& sr_model(pipeline::Resolution r);
    const wan_vae::WanVae& image_encoder();
    const turbo_vaed::TurboVaed& turbo();
    const audio_vae::AudioVae& audio_vae();
    // Releases `role` after its stage unless the plan keeps everything loaded.
    void done_with(const std::string& role);
    void release_all();
    void check_sr_available(pipeline::Resolution r) const;
    // Streaming statistics of one stage's model (no-ops for a model without a store).
    static void streaming_begin(const models::BlockStore* store);
    static void streaming_end(const std::string& stage, const models::BlockStore* store, GenerateResult& result);

    pipeline::TextCondition negative_text(const std::string& negative_prompt);
    at::Tensor encode_image(const at::Tensor& rgb, const pipeline::StageGeometry& g);

    pipeline::ModelManifest manifest_;
    ResolvedOptions options_;
    std::vector<pipeline::PlanComponent> footprints_;
    pipeline::MemoryPlan plan_;
    dit::DitConfig base_dit_config_;
    Slot<t5gemma::T5GemmaEncoder> text_encoder_;
    std::optional<t5gemma::Tokenizer> tokenizer_;
    Slot<dit::DitModel> base_dit_;
    bool base_is_distilled_ = true;
    Slot<dit::DitModel> sr_540p_, sr_1080p_;
    std::optional<wan_vae::WanVae> wan_;  // image encoder (+ decoder when there is no TurboVAED)
    std::optional<turbo_vaed::TurboVaed> turbo_;
    std::optional<audio_vae::AudioVae> audio_;
    std::optional<pipeline::TextCondition> default_negative_;
};

const pipeline::ComponentRef& LocalEngine::base_ref() const {
    return manifest_.dit_distill ? *manifest_.dit_distill : *manifest_.dit_base;
}

std::optional<pipeline::ComponentRef> LocalEngine::sr_ref(pipeline::Resolution r) const {
    if (r == pipeline::Resolution::k540p) return manifest_.dit_sr_540p;
    if (r == pipeline::Resolution::k1080p) return manifest_.dit_sr_1080p;
    return std::nullopt;
}

std::string LocalEngine::dit_weights(const pipeline::ComponentRef& ref) const {
    return ref.weights.empty() ? ref.path : ref.weights;
}

dit::DitConfig LocalEngine::dit_config(const pipeline::ComponentRef& ref, bool sr_1080p) const {
    const std::string dir = ref.path.empty() ? fs::path(ref.weights).parent_path().string() : ref.path;
    auto config = dit::DitConfig::from_model_dir(dir);
    if (!ref.arch.is_null()) config.apply(ref.arch);
    // The 1080p SR checkpoint runs local attention (upstream: only when SR2_1080 is set).
    if (sr_1080p && config.local_attn_layers.empty() && config.num_layers == 40)
        config.local_attn_layers = pipeline::sr_1080p_local_attn_layers();
    config.validate();
    return config;
}

dit::DitModel LocalEngine::load_dit(const pipeline::ComponentRef& ref, bool sr_1080p, bool stream) const {
    dit::DitOptions o;
    o.precision = options_.precision;
    o.device = options_.device;
    o.stream_blocks = stream;
    return dit::DitModel::load(dit_weights(ref), dit_config(ref, sr_1080p), o);
}

t5gemma::T5GemmaOptions LocalEngine::text_options(bool stream) const {
    t5gemma::T5GemmaOptions to;
    to.precision = options_.precision;
    to.device = options_.device;
    to.stream_blocks = stream;
    return to;
}

// Checks every component up front (a half-downloaded or mismatched model fails at open, not
// mid-job) without holding the big ones: the DiT and the text encoder are opened streamed,
// which binds and checks every tensor but keeps only the small ones; the plan of the first job
// loads them as it needs them. Also measures each component's footprint for the plans.
void LocalEngine::open_components() {
    const auto& base = base_ref();
    base_is_distilled_ = manifest_.dit_distill.has_value();
    if (options_.precision_auto && !options_.device.is_cuda()) {
        // A bf16 (or quantized) checkpoint computes in bf16 as upstream does; an fp32 one in fp32.
        const io::Checkpoint ckpt = io::Checkpoint::open(dit_weights(base));
        const std::string probe = "block.layers.0.attention.linear_qkv.weight";
        if (ckpt.contains(probe) && ckpt.info(probe).dtype != io::DType::kF32) options_.precision = dit::Precision::kBF16;
    }
    text_encoder_.model = t5gemma::T5GemmaEncoder::load(manifest_.text_encoder->path, text_options(true));
    text_encoder_.streamed = true;
    tokenizer_ = t5gemma::Tokenizer::load(manifest_.tokenizer->path);
    base_dit_.model = load_dit(base, false, true);
    base_dit_.streamed = true;
    base_dit_config_ = base_dit_.model->config();
    CANTER_CHECK(base_dit_.model->config().text_in_channels == text_encoder_.model->config().hidden_size, InvalidArgument,
                 manifest_.dir << ": the DiT reads " << base_dit_.model->config().text_in_channels
                               << "-wide text features but the text encoder produces "
                               << text_encoder_.model->config().hidden_size);

    auto add = [&](const std::string& role, const std::string& label, models::Footprint f, bool streamable) {
        footprints_.push_back(pipeline::PlanComponent{role, label, f, streamable});
    };
    add("text_encoder", "text encoder", t5gemma::T5GemmaEncoder::footprint(manifest_.text_encoder->path, text_options(false)),
        true);
    auto dit_fp = [&](const pipeline::ComponentRef& ref, bool sr_1080p) {
        dit::DitOptions o;
        o.precision = options_.precision;
        o.device = options_.device;
        return dit::DitModel::footprint(dit_weights(ref), dit_config(ref, sr_1080p), o);
    };
    add("dit.base", base_is_distilled_ ? "distilled DiT" : "base DiT", dit_fp(base, false), true);
    if (manifest_.dit_sr_540p) add("dit.sr_540p", "540p SR DiT", dit_fp(*manifest_.dit_sr_540p, false), true);
    if (manifest_.dit_sr_1080p) add("dit.sr_1080p", "1080p SR DiT", dit_fp(*manifest_.dit_sr_1080p, true), true);
    auto small = [](const std::string& path, const std::string& prefix = "") {
        models::Footprint f;
        f.other_bytes = models::fp32_bytes(path, prefix);
        return f;
    };
    auto weights_of = [](const pipeline::ComponentRef& ref) { return ref.weights.empty() ? ref.path : ref.weights; };
    if (manifest_.video_vae)
        add("video_vae", "Wan2.2 VAE", small(wan_vae::WanVae::weights_file(weights_of(*manifest_.video_vae))), false);
    if (manifest_.turbo_vaed)
        add("turbo_vaed", "TurboVAED decoder", small(turbo_vaed::TurboVaed::weights_file(weights_of(*manifest_.turbo_vaed))),
            false);
    add("audio_vae", "audio VAE", small(manifest_.audio_vae->path, audio_vae::kCheckpointPrefix), false);

    // The small decoders load now (their loaders are the check); they are released per the plan.
    if (manifest_.turbo_vaed) turbo();
    else image_encoder();
    audio_vae();
}

pipeline::MemoryPlan LocalEngine::plan_for(const pipeline::Geometry& geo, bool with_image, bool with_audio) {
    std::vector<pipeline::PlanStage> stages;
    const auto& dc = base_dit_config_;
    stages.push_back({"text", "text_encoder", kTextWorkingBytes});
    const uint64_t decoder_bytes = decoder_working_bytes(geo);
    if (with_image) stages.push_back({"image", "video_vae", decoder_bytes});
    stages.push_back({"base", "dit.base", dit_working_bytes(dc, geo.packed_length(false, kTextTargetLength))});
    if (geo.has_sr)
        stages.push_back({"sr", geo.resolution == pipeline::Resolution::k540p ? "dit.sr_540p" : "dit.sr_1080p",
                          dit_working_bytes(dc, geo.packed_length(true, kTextTargetLength))});
    stages.push_back({"decode", manifest_.turbo_vaed ? "turbo_vaed" : "video_vae", decoder_bytes});
    if (with_audio) stages.push_back({"audio", "audio_vae", 64ull << 20});
    return pipeline::plan_memory(options_.budget, options_.budget_source, footprints_, stages, options_.always_stream,
                                 options_.already_used);
}

bool LocalEngine::streamed(const std::string& role) const {
    auto it = plan_.streamed.find(role);
    return it != plan_.streamed.end() && it->second;
}

void LocalEngine::release_all() {
    for (const char* role : {"text_encoder", "dit.base", "dit.sr_540p", "dit.sr_1080p", "video_vae", "turbo_vaed",
                             "audio_vae"})
        done_with(role);
}

void LocalEngine::check_sr_available(pipeline::Resolution r) const {
    const bool is_540 = r == pipeline::Resolution::k540p;
    CANTER_CHECK(sr_ref(r), InvalidArgument,
                 "resolution " << (is_540 ? "540p" : "1080p") << " needs the " << (is_540 ? "540p" : "1080p")
                               << " super-resolution DiT, which model '" << manifest_.name << "' does not have");
}

void LocalEngine::streaming_begin(const models::BlockStore* store) {
    if (store) const_cast<models::BlockStore*>(store)->reset_stats();
}

void LocalEngine::streaming_end(const std::string& stage, const models::BlockStore* store, GenerateResult& result) {
    if (!store || !store->policy().stream) return;
    const auto s = store->stats();
    StreamingReport r;
    r.stage = stage;
    r.bytes_read = s.bytes_read;
    r.read_s = s.read_s;
    r.wait_s = s.wait_s;
    r.upload_bytes = s.upload_bytes;
    r.upload_s = s.upload_s;
    r.upload_stall_s = s.upload_stall_s;
    result.streaming.push_back(r);
}

void LocalEngine::done_with(const std::string& role) {
    if (plan_.keep_loaded) return;
    if (role == "text_encoder") text_encoder_.model.reset();
    else if (role == "dit.base") base_dit_.model.reset();
    else if (role == "dit.sr_540p") sr_540p_.model.reset();
    else if (role == "dit.sr_1080p") sr_1080p_.model.reset();
    else if (role == "video_vae") wan_.reset();
    else if (role == "turbo_vaed") turbo_.reset();
    else if (role == "audio_vae") audio_.reset();
}

t5gemma::T5GemmaEncoder& LocalEngine::text_encoder() {
    const bool stream = streamed("text_encoder");
    if (!text_encoder_.model || text_encoder_.streamed != stream) {
        text_encoder_.model.reset();  // never two copies at once
        text_encoder_.model = t5gemma::T5GemmaEncoder::load(manifest_.text_encoder->path, text_options(stream));
        text_encoder_.streamed = stream;
    }
    return *text_encoder_.model;
}

dit::DitModel& LocalEngine::base_dit() {
    const bool stream = streamed("dit.base");
    if (!base_dit_.model || base_dit_.streamed != stream) {
        base_dit_.model.reset();
        base_dit_.model = load_dit(base_ref(), false, stream);
        base_dit_.streamed = stream;
    }
    return *base_dit_.model;
}

dit::DitModel& LocalEngine::sr_model(pipeline::Resolution r) {
    check_sr_available(r);
    const bool is_540 = r == pipeline::Resolution::k540p;
    const auto ref = sr_ref(r);
    auto& slot = is_540 ? sr_540p_ : sr_1080p_;
    const bool stream = streamed(is_540 ? "dit.sr_540p" : "dit.sr_1080p");
    if (!slot.model || slot.streamed != stream) {
        slot.model.reset();
        slot.model = load_dit(*ref, !is_540, stream);
        slot.streamed = stream;
    }
    return *slot.model;
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

const turbo_vaed::TurboVaed& LocalEngine::turbo() {
    if (!turbo_) {
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
    }
    return *turbo_;
}

const audio_vae::AudioVae& LocalEngine::audio_vae() {
    if (!audio_) {
        audio_vae::AudioVaeOptions ao;
        ao.device = options_.device;
        ao.load_encoder = false;
        audio_ = audio_vae::AudioVae::load(manifest_.audio_vae->path, ao);
    }
    return *audio_;
}

pipeline::TextCondition LocalEngine::negative_text(const std::string& negative_prompt) {
    auto encode = [&](const std::string& text) {
        auto e = pipeline::encode_prompt(text_encoder(), *tokenizer_, text, kTextTargetLength);
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
    if (geo.has_sr) check_sr_available(resolution);  // fail fast before any work
    check_output_path(request.output_path, "output");
    check_output_path(request.wav_path, "WAV output");
    check_output_path(request.contact_sheet_path, "contact sheet");
    const bool with_image = !request.image_path.empty();
    at::Tensor image_rgb;
    if (with_image) image_rgb = media::read_image_rgb(request.image_path);  // bad file: fail before work
    // What stays loaded, what loads per stage, what streams (budget too small: fails here).
    plan_ = plan_for(geo, with_image, request.audio);
    if (!plan_.keep_loaded) release_all();  // a previous job's plan may have kept everything

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
    result.memory_plan = plan_.log;
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
        streaming_begin(text_encoder().block_store());
        // The speech language is named in the prompt, as upstream's enhanced prompts do.
        const std::string prompt = pipeline::prompt_with_speech_language(request.prompt, request.language);
        auto e = pipeline::encode_prompt(text_encoder(), *tokenizer_, prompt, kTextTargetLength);
        if (e.truncated) {
            result.warnings.push_back("prompt has " + std::to_string(e.token_count) + " tokens; the model reads the first " +
                                      std::to_string(kTextTargetLength));
        }
        cond.text = {e.context.to(options_.device), e.length};
        if (base_cfg == 2) {
            auto n = negative_text(request.negative_prompt);
            cond.negative_text = {n.features.to(options_.device), n.length};
        }
        streaming_end("text", text_encoder().block_store(), result);
        done_with("text_encoder");
    });

    // 2. reference image at the base size (and the SR size: the encoder is not needed again)
    at::Tensor sr_image_latent;
    if (with_image) {
        timed("image", [&] {
            tracker.begin("image", 0, "encoding the reference image");
            cond.image_latent = encode_image(image_rgb, geo.base);
            if (geo.has_sr) sr_image_latent = encode_image(image_rgb, geo.sr);
            done_with("video_vae");
        });
    }

    // 3. noise (upstream order: audio first, then video) and the base stage
    pipeline::SeededNoise noise(static_cast<uint64_t>(request.seed));
    const auto z_dim = base_dit_config_.video_in_channels / 4;  // patch 1x2x2
    const auto audio_channels = base_dit_config_.audio_in_channels;
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
        dit::DitModel& model = base_dit();
        streaming_begin(model.block_store());
        latents = pipeline::run_stage(model, config, cond, start, noise, on_step("base"));
        streaming_end("base", model.block_store(), result);
        done_with("dit.base");
    });

    // 4. super-resolution
    if (geo.has_sr) {
        timed("sr", [&] {
            tracker.begin("sr", kSrSteps,
                          "super-resolution to " + std::to_string(geo.sr.width) + "x" + std::to_string(geo.sr.height));
            pipeline::StageConditioning sr_cond;
            sr_cond.text = cond.text;
            if (with_image) sr_cond.image_latent = sr_image_latent;
            auto config = pipeline::StageConfig::super_resolution(kSrSteps, 1);
            dit::DitModel& model = sr_model(resolution);
            streaming_begin(model.block_store());
            latents = pipeline::super_resolve(model, config, pipeline::SrRenoiseConfig{}, sr_cond, latents,
                                              geo.sr.latent_h, geo.sr.latent_w, noise, on_step("sr"));
            streaming_end("sr", model.block_store(), result);
            done_with(resolution == pipeline::Resolution::k540p ? "dit.sr_540p" : "dit.sr_1080p");
        });
    }

    // 5. video decode
    at::Tensor frames;
    timed("decode", [&] {
        tracker.begin("decode", 0, "decoding video");
        at::Tensor video = manifest_.turbo_vaed ? turbo().decode(latents.video) : image_encoder().decode(latents.video);
        done_with(manifest_.turbo_vaed ? "turbo_vaed" : "video_vae");
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
            const auto raw = audio_vae().decode(latents.audio[0].t()).to(at::kCPU).to(at::kFloat)[0];  // [2, 2048 A]
            done_with("audio_vae");
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
    result.peak_rss_bytes = peak_rss_bytes();
    tracker.done();
    return result;
}

}  // namespace

std::unique_ptr<Engine> Engine::open(const EngineOptions& options) {
    const auto resolved = resolve_options(options);
    std::string dir = options.model_dir;
    if (pipeline::is_random_model_spec(dir)) dir = pipeline::materialize_random_model(dir);  // in memory
    if (dir.empty()) {
        dir = default_demo_model_dir();
        if (!demo_model_is_current(dir)) make_demo_model(dir);
    }
    return std::make_unique<LocalEngine>(pipeline::ModelManifest::load(dir), resolved);
}

}  // namespace canter
