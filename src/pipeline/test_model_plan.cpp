#include "pipeline/test_model_plan.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

#include "models/audio_vae/audio_vae.h"
#include "models/common/keyed_random.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "models/wan_vae/wan_vae.h"
#include "pipeline/model_manifest.h"
#include "pipeline/test_model_presets.h"
#include "util/check.h"

namespace canter::pipeline {

namespace {

// The released layout (HF repo GAIR/daVinci-MagiHuman plus the three external models).
constexpr const char* kTextFolder = "t5gemma-9b-9b-ul2";
constexpr const char* kWanFolder = "Wan2.2-TI2V-5B";
constexpr const char* kTurboFolder = "turbo_vae";
constexpr const char* kTurboConfig = "turbo_vae/TurboV3-Wan22-TinyShallow_7_7.json";
constexpr const char* kTurboWeights = "turbo_vae/checkpoint-340000.safetensors";
constexpr const char* kAudioFolder = "stable-audio-open-1.0";
// tokenizer.model + tokenizer_config.json of the demo tokenizer (measured: ~7 KB), counted in
// the total so the disk check is not short by it.
constexpr uint64_t kTokenizerBytes = 16 << 10;
const std::map<std::string, std::string> kMetadata = {{"format", "pt"}};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join_path(const std::string& folder, const std::string& name) {
    return folder.empty() ? name : folder + "/" + name;
}

// How one visited tensor is stored and drawn.
using Rule = std::function<WeightPlan(const models::WeightSpec&)>;

WeightPlan base_plan(const models::WeightSpec& s, io::DType dtype, uint64_t seed, const std::string& role) {
    WeightPlan w;
    w.key = s.key;
    w.shape = s.shape;
    w.dtype = dtype;
    w.stream = models::keyed_stream(seed, role + "/" + s.key);
    return w;
}

// DiT and T5Gemma: as DitModel::random / T5GemmaEncoder::random draw them. Matrices (and the
// embedding) N(0, 1/in) keep activations at unit scale layer after layer; norm weights are
// small offsets because both models apply RMSNorm as (1 + w); DiT embedder biases are small.
void transformer_init(WeightPlan& w, bool dit) {
    w.init = TensorInit::kNormal;
    if (w.shape.size() == 1) w.stddev = (dit && ends_with(w.key, ".bias")) ? 0.02 : 0.1;
    else w.stddev = 1.0 / std::sqrt(static_cast<double>(w.shape.back()));
}

// VAEs: RandomFiller's conventions. Conv kernels N(0, 1/fan_in); biases and the log-scale
// SnakeBeta alpha/beta zero; RMS_norm gammas and weight-norm magnitudes one (these norms
// multiply by w itself, not 1 + w).
void vae_init(WeightPlan& w) {
    if (ends_with(w.key, "bias") || ends_with(w.key, ".alpha") || ends_with(w.key, ".beta")) {
        w.init = TensorInit::kZeros;
    } else if (ends_with(w.key, "gamma") || ends_with(w.key, "weight_g") || w.shape.size() < 2) {
        w.init = TensorInit::kOnes;
    } else {
        int64_t fan_in = 1;
        for (size_t i = 1; i < w.shape.size(); ++i) fan_in *= w.shape[i];
        w.init = TensorInit::kNormal;
        w.stddev = 1.0 / std::sqrt(static_cast<double>(fan_in));
    }
}

// Greedy shards in visit order (a quantized matrix and its scale stay together); one file
// `single` when everything fits in one.
void shard(ComponentPlan& c, std::vector<WeightPlan> weights, models::WeightFormat format, uint64_t max_bytes,
           const std::string& single) {
    std::vector<std::vector<WeightPlan>> groups(1);
    uint64_t in_group = 0;
    for (auto& w : weights) {
        uint64_t n = static_cast<uint64_t>(w.numel());
        n = w.quantized ? n + 4 * static_cast<uint64_t>(w.shape[0]) : n * io::dtype_size(w.dtype);
        if (!groups.back().empty() && in_group + n > max_bytes) {
            groups.emplace_back();
            in_group = 0;
        }
        groups.back().push_back(std::move(w));
        in_group += n;
    }
    nlohmann::json weight_map = nlohmann::json::object();
    uint64_t data_bytes = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
        SafetensorsPlan f;
        if (groups.size() == 1) {
            f.path = join_path(c.folder, single);
        } else {
            char name[64];
            std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, groups.size());
            f.path = join_path(c.folder, name);
        }
        f.weights = std::move(groups[i]);
        const auto entries = f.entries(format);
        f.bytes = io::SafetensorsWriter::file_size(entries, kMetadata);
        const std::string file_name = f.path.substr(f.path.rfind('/') + 1);
        for (const auto& e : entries) {
            weight_map[e.name] = file_name;
            uint64_t n = io::dtype_size(e.dtype);
            for (auto d : e.shape) n *= static_cast<uint64_t>(d);
            data_bytes += n;
        }
        c.files.push_back(std::move(f));
    }
    if (groups.size() > 1) {
        const nlohmann::json index = {{"metadata", {{"total_size", data_bytes}}}, {"weight_map", weight_map}};
        c.small.push_back({join_path(c.folder, "model.safetensors.index.json"), index.dump(2) + "\n"});
    }
}

ComponentPlan make_component(const std::string& role, const std::string& folder, const models::SpecCollector& specs,
                             const Rule& rule, models::WeightFormat format, uint64_t max_shard_bytes,
                             const std::string& single) {
    ComponentPlan c;
    c.role = role;
    c.folder = folder;
    std::vector<WeightPlan> weights;
    for (const auto& s : specs.specs()) {
        if (!s.required) continue;  // recomputable buffers (adapter.rope.bands) are not shipped
        weights.push_back(rule(s));
        c.parameters += s.numel();
    }
    shard(c, std::move(weights), format, max_shard_bytes, single);
    return c;
}

// Stored dtypes. DiT: as the module holds them (pipeline.md §1.4): block matrices BF16, the
// rest F32. T5Gemma: BF16 throughout (the HF checkpoint, encoders.md §4.1). The three VAEs:
// F32. The Wan2.2 .pth (~2.8 GB for 704.7 M parameters) and the TurboVAED training
// checkpoint (1.87 GB for 107 M) are fp32-sized, and upstream loads Stable Audio into fp32
// modules from a 4.85 GB file; bf16 would halve small files but not match any release.
ComponentPlan plan_wan(const TestModelPreset& p, uint64_t seed) {
    const auto config = p.wan_config.is_null() ? wan_vae::WanVaeConfig{} : wan_vae::WanVaeConfig::from_json(p.wan_config);
    config.validate();
    wan_vae::WanVaeWeights w;
    models::SpecCollector specs;
    // The encoder only: with TurboVAED present the pipeline uses the Wan2.2 VAE just to encode
    // reference images (its decoder would add 555 M parameters, 2.2 GB, nothing reads).
    w.visit(specs, config, /*with_encoder=*/true, /*with_decoder=*/false);
    const std::string role = "video_vae";
    auto c = make_component(
        role, kWanFolder, specs,
        [&](const models::WeightSpec& s) {
            auto plan = base_plan(s, io::DType::kF32, seed, role);
            vae_init(plan);
            return plan;
        },
        models::WeightFormat::kAsStored, UINT64_MAX, "Wan2.2_VAE.safetensors");
    if (!p.wan_config.is_null()) c.small.push_back({join_path(kWanFolder, "config.json"), p.wan_config.dump(2) + "\n"});
    return c;
}

ComponentPlan plan_turbo(const TestModelPreset& p, uint64_t seed) {
    const auto config = turbo_vaed::TurboVaedConfig::from_json(p.turbo_vaed_config);
    turbo_vaed::TurboVaedWeights w;
    models::SpecCollector specs;
    w.visit(specs, config);
    const std::string role = "turbo_vaed";
    ComponentPlan c = make_component(
        role, kTurboFolder, specs,
        [&](const models::WeightSpec& s) {
            auto plan = base_plan(s, io::DType::kF32, seed, role);
            vae_init(plan);
            return plan;
        },
        models::WeightFormat::kAsStored, UINT64_MAX, "x");
    c.files[0].path = kTurboWeights;
    c.small.push_back({kTurboConfig, p.turbo_vaed_config.dump(2) + "\n"});
    return c;
}

ComponentPlan plan_audio(const TestModelPreset& p, uint64_t seed) {
    const auto config = audio_vae::AudioVaeConfig::from_json(p.audio_config);
    audio_vae::AudioVaeWeights w;
    models::SpecCollector specs;
    w.visit(specs, config, /*with_encoder=*/true, /*with_decoder=*/true);  // the released file has both
    const std::string role = "audio_vae";
    ComponentPlan c = make_component(
        role, kAudioFolder, specs,
        [&](const models::WeightSpec& s) {
            auto plan = base_plan(s, io::DType::kF32, seed, role);
            vae_init(plan);
            return plan;
        },
        models::WeightFormat::kAsStored, UINT64_MAX, "model.safetensors");
    c.small.push_back({join_path(kAudioFolder, "model_config.json"), p.audio_config.dump(2) + "\n"});
    return c;
}

}  // namespace

const std::map<std::string, std::string>& test_model_metadata() { return kMetadata; }

int64_t WeightPlan::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::vector<io::SafetensorsWriter::Entry> SafetensorsPlan::entries(models::WeightFormat format) const {
    std::vector<io::SafetensorsWriter::Entry> out;
    for (const auto& w : weights) {
        if (w.quantized) {
            out.push_back({w.key, format == models::WeightFormat::kFp8 ? io::DType::kF8E4M3 : io::DType::kI8, w.shape});
            out.push_back({models::scale_key(w.key), io::DType::kF32, {w.shape[0]}});
        } else {
            out.push_back({w.key, w.dtype, w.shape});
        }
    }
    return out;
}

uint64_t ComponentPlan::bytes() const {
    uint64_t n = tokenizer ? kTokenizerBytes : 0;
    for (const auto& f : files) n += f.bytes;
    for (const auto& s : small) n += s.content.size();
    return n;
}

models::WeightFormat parse_test_model_format(const std::string& value, const std::string& what) {
    if (value == "bf16") return models::WeightFormat::kAsStored;
    if (value == "int8") return models::WeightFormat::kInt8;
    if (value == "fp8") return models::WeightFormat::kFp8;
    CANTER_THROW(InvalidArgument, what << " must be bf16, int8 or fp8, got '" << value << "'");
}

ComponentPlan plan_dit(const std::string& role, const std::string& folder, const dit::DitConfig& config,
                       const nlohmann::json& arch, models::WeightFormat format, uint64_t seed,
                       uint64_t max_shard_bytes) {
    config.validate();
    dit::DitWeights w;
    models::SpecCollector specs;
    w.visit(specs, config, at::kBFloat16);
    const bool quantize = format != models::WeightFormat::kAsStored;
    auto c = make_component(
        role, folder, specs,
        [&](const models::WeightSpec& s) {
            auto plan = base_plan(s, s.is_block_matrix() ? io::DType::kBF16 : io::DType::kF32, seed, role);
            plan.quantized = quantize && s.is_block_matrix();
            transformer_init(plan, /*dit=*/true);
            return plan;
        },
        format, max_shard_bytes, "model.safetensors");
    if (!arch.is_null()) c.small.push_back({join_path(folder, "config.json"), nlohmann::json{{"arch_config", arch}}.dump(2) + "\n"});
    return c;
}

ComponentPlan plan_t5gemma(const std::string& role, const std::string& folder, const nlohmann::json& config_json,
                           models::WeightFormat format, uint64_t seed, uint64_t max_shard_bytes) {
    const auto config = t5gemma::T5GemmaConfig::from_json(config_json);
    t5gemma::T5GemmaWeights w;
    models::SpecCollector specs;
    // Encoder keys only: MagiHuman builds T5GemmaEncoderModel and never reads model.decoder.*
    // (half of the 40.7 GB HF repo).
    w.visit(specs, config, "model.encoder.", at::kBFloat16, at::kBFloat16);
    const bool quantize = format != models::WeightFormat::kAsStored;
    auto c = make_component(
        role, folder, specs,
        [&](const models::WeightSpec& s) {
            auto plan = base_plan(s, io::DType::kBF16, seed, role);
            plan.quantized = quantize && s.is_block_matrix();
            transformer_init(plan, /*dit=*/false);
            return plan;
        },
        format, max_shard_bytes, "model.safetensors");
    c.small.push_back({join_path(folder, "config.json"), config_json.dump(2) + "\n"});
    return c;
}

ModelPlan plan_model(const TestModelOptions& options) {
    const TestModelPreset& p = find_test_model_preset(options.preset);
    ModelPlan plan;
    plan.options = options;
    plan.format = parse_test_model_format(options.format, "format");
    CANTER_CHECK(options.max_shard_bytes > 0, InvalidArgument, "the shard size must be positive");
    std::set<std::string> sr;
    for (const auto& r : options.sr) {
        CANTER_CHECK(r == "540p" || r == "1080p", InvalidArgument,
                     "SR resolution must be 540p or 1080p, got '" << r << "'");
        sr.insert(r);
    }
    const uint64_t seed = options.seed, shard_max = options.max_shard_bytes;
    nlohmann::json dits = {{"distill", "distill"}};
    plan.components.push_back(plan_dit("dit.distill", "distill", p.dit, p.dit_arch, plan.format, seed, shard_max));
    if (sr.count("540p")) {
        plan.components.push_back(plan_dit("dit.sr_540p", "540p_sr", p.dit, p.dit_arch, plan.format, seed, shard_max));
        dits["sr_540p"] = "540p_sr";
    }
    if (sr.count("1080p")) {
        // The 1080p SR checkpoint runs local attention: an arch override in the manifest, as
        // the demo model and the engine bind it to this role (pipeline.md §1.2).
        plan.components.push_back(plan_dit("dit.sr_1080p", "1080p_sr", p.dit, p.dit_arch, plan.format, seed, shard_max));
        dits["sr_1080p"] = {{"path", "1080p_sr"}, {"arch", {{"local_attn_layers", p.sr_1080p_local_attn_layers}}}};
    }
    auto text = plan_t5gemma("text_encoder", kTextFolder, p.t5gemma_config, plan.format, seed, shard_max);
    text.tokenizer = true;
    plan.components.push_back(std::move(text));
    plan.components.push_back(plan_wan(p, seed));
    plan.components.push_back(plan_turbo(p, seed));
    plan.components.push_back(plan_audio(p, seed));

    nlohmann::json sr_list = nlohmann::json::array();
    for (const auto& r : sr) sr_list.push_back(r);
    const nlohmann::json manifest = {
        {"format", "canter-model"},
        {"version", 1},
        {"name", p.name + "-random"},
        {"demo", false},
        {"description", "Untrained test model (canter make-test-model): " + p.description +
                            ", with deterministic random weights in the released checkpoints' key names, "
                            "shapes and dtypes. It exercises the full-size engine but generates noise."},
        {"test_model", {{"preset", p.name}, {"format", options.format}, {"seed", seed}, {"sr", sr_list}}},
        {"dit", dits},
        {"text_encoder", kTextFolder},
        {"tokenizer", kTextFolder},
        {"video_vae", kWanFolder},
        {"turbo_vaed", {{"config", kTurboConfig}, {"weights", kTurboWeights}}},
        {"audio_vae", kAudioFolder}};
    plan.manifest = {kManifestFileName, manifest.dump(2) + "\n"};
    return plan;
}

TestModelSummary ModelPlan::summary() const {
    TestModelSummary s;
    s.preset = options.preset;
    s.format = options.format;
    for (const auto& c : components) {
        TestModelPart part;
        part.role = c.role;
        part.folder = c.folder;
        part.parameters = c.parameters;
        part.bytes = c.bytes();
        part.files = static_cast<int>(c.files.size());
        s.parameters += part.parameters;
        s.bytes += part.bytes;
        s.parts.push_back(std::move(part));
    }
    s.bytes += manifest.content.size();
    return s;
}

}  // namespace canter::pipeline
