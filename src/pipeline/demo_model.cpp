// The built-in demo model: every component of the real model at toy width, with deterministic
// random weights, written in the real checkpoints' layouts and key names so that the demo runs
// exactly the code paths (loaders, manifest, pipeline, decoders, muxing) a real model does.
// It is untrained: it makes a valid MP4 with moving noise and noisy audio, not the prompt.
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "canter/engine.h"
#include "io/safetensors.h"
#include "models/audio_vae/audio_vae.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "models/wan_vae/wan_vae.h"
#include "pipeline/demo_model.h"
#include "pipeline/model_manifest.h"
#include "util/check.h"

namespace canter {

namespace fs = std::filesystem;

namespace {

// Bump when the demo model's content changes: a cached copy with another version is rebuilt.
constexpr int kDemoVersion = 1;
constexpr int kTextWidth = 64;

void write_json(const fs::path& path, const nlohmann::json& j) {
    std::ofstream out(path);
    CANTER_CHECK(out.good(), IO, path.string() << ": cannot write");
    out << j.dump(2) << "\n";
    CANTER_CHECK(out.good(), IO, path.string() << ": write failed");
}

nlohmann::json dit_arch(std::vector<int> local_attn_layers) {
    return {{"num_layers", 4},
            {"hidden_size", 64},
            {"head_dim", 32},
            {"num_query_groups", 1},
            {"video_in_channels", 192},
            {"audio_in_channels", 64},
            {"text_in_channels", kTextWidth},
            {"mm_layers", {0, 3}},
            {"gelu7_layers", {0}},
            {"local_attn_layers", local_attn_layers},
            {"enable_attn_gating", true}};
}

void write_dit(const fs::path& dir, uint64_t seed, std::vector<int> local_attn_layers) {
    fs::create_directories(dir);
    const nlohmann::json config = {{"arch_config", dit_arch(std::move(local_attn_layers))}};
    write_json(dir / "config.json", config);
    dit::DitOptions options;
    options.precision = dit::Precision::kFP32;
    const auto arch = dit::DitConfig::from_json(config["arch_config"]);
    auto weights = dit::DitModel::random(arch, options, seed).weights();
    models::TensorCollector collector;
    weights.visit(collector, arch, at::kFloat);
    io::write_safetensors((dir / "model.safetensors").string(), collector.tensors());
}

void write_text_encoder(const fs::path& dir, uint64_t seed) {
    fs::create_directories(dir);
    const nlohmann::json encoder = {
        {"hidden_size", kTextWidth},     {"intermediate_size", 128}, {"num_hidden_layers", 2},
        {"num_attention_heads", 2},      {"num_key_value_heads", 1}, {"head_dim", 32},
        {"query_pre_attn_scalar", 32},   {"sliding_window", 64},     {"rope_theta", 10000.0},
        {"rms_norm_eps", 1e-6},          {"attn_logit_softcapping", 50.0},
        {"hidden_activation", "gelu_pytorch_tanh"},
        {"vocab_size", 512},             {"pad_token_id", 0},        {"eos_token_id", 1},
        {"bos_token_id", 2}};
    const nlohmann::json config = {{"architectures", {"T5GemmaForConditionalGeneration"}},
                                   {"model_type", "t5gemma"},
                                   {"encoder", encoder},
                                   {"decoder", encoder},
                                   {"pad_token_id", 0},
                                   {"eos_token_id", 1},
                                   {"bos_token_id", 2}};
    t5gemma::T5GemmaOptions options;
    const auto model = t5gemma::T5GemmaEncoder::random(t5gemma::T5GemmaConfig::from_json(config), options, seed);
    model.save(dir.string());  // config.json + model.safetensors (`model.encoder.*`)
    t5gemma::write_demo_tokenizer(dir.string());
}

void write_video_vae(const fs::path& dir, uint64_t seed) {
    fs::create_directories(dir);
    const nlohmann::json kwargs = {{"dim", 8},          {"dec_dim", 8},           {"z_dim", 48},
                                   {"dim_mult", {1, 2, 2, 2}}, {"num_res_blocks", 1},
                                   {"temperal_downsample", {false, true, true}},  {"attn_scales", nlohmann::json::array()},
                                   {"dropout", 0.0}};
    write_json(dir / "config.json", {{"WanVAE_kwargs", kwargs}});
    const auto config = wan_vae::WanVaeConfig::from_json({{"WanVAE_kwargs", kwargs}});
    auto weights = wan_vae::WanVae::random(config, {}, seed).weights();
    models::TensorCollector collector;
    weights.visit(collector, config);
    io::write_safetensors((dir / "Wan2.2_VAE.safetensors").string(), collector.tensors());
}

void write_turbo_vaed(const fs::path& dir, uint64_t seed) {
    fs::create_directories(dir);
    // The real decoder's structure (TurboV3-Wan22-TinyShallow_7_7) at 1/8 width.
    const nlohmann::json config = {{"latent_channels", 48},
                                   {"out_channels", 3},
                                   {"decoder_block_out_channels", {8, 16, 32, 64}},
                                   {"decoder_layers_per_block", {1, 1, 1, 1, 1}},
                                   {"decoder_spatio_temporal_scaling", {false, true, true, true}},
                                   {"decoder_spatio_only", {false, true, false, false}},
                                   {"decoder_is_dw_conv", {false, false, false, false, false}},
                                   {"decoder_dw_kernel_size", 5},
                                   {"decoder_causal", false},
                                   {"patch_size", 2},
                                   {"patch_size_t", 1},
                                   {"resnet_norm_eps", 1e-6},
                                   {"scaling_factor", 1.0},
                                   {"spatial_compression_ratio", 16},
                                   {"temporal_compression_ratio", 4},
                                   {"first_chunk_size", 7},
                                   {"step_size", 7},
                                   {"use_unpatchify", true}};
    write_json(dir / "config.json", config);
    const auto parsed = turbo_vaed::TurboVaedConfig::from_json(config);
    auto weights = turbo_vaed::TurboVaed::random(parsed, {}, seed).weights();
    models::TensorCollector collector;
    weights.visit(collector, parsed);
    io::write_safetensors((dir / "weights.safetensors").string(), collector.tensors());
}

void write_audio_vae(const fs::path& dir, uint64_t seed) {
    fs::create_directories(dir);
    auto stack = [](bool encoder) {
        nlohmann::json c = {{"c_mults", {1, 2, 4, 8, 16}}, {"channels", 4},  {"strides", {2, 4, 4, 8, 8}},
                            {"use_snake", true},            {"latent_dim", encoder ? 128 : 64}};
        if (encoder) c["in_channels"] = 2;
        else {
            c["out_channels"] = 2;
            c["final_tanh"] = false;
        }
        return nlohmann::json{{"type", "oobleck"}, {"config", c}};
    };
    const nlohmann::json config = {
        {"model",
         {{"type", "autoencoder"},
          {"pretransform",
           {{"type", "autoencoder"},
            {"config",
             {{"encoder", stack(true)},
              {"decoder", stack(false)},
              {"bottleneck", {{"type", "vae"}}},
              {"latent_dim", 64},
              {"downsampling_ratio", 2048},
              {"io_channels", 2}}}}}}},
        {"sample_rate", 44100}};
    write_json(dir / "model_config.json", config);
    const auto parsed = audio_vae::AudioVaeConfig::from_json(config);
    audio_vae::AudioVaeWeights weights;
    models::RandomFiller filler(seed);
    weights.visit(filler, parsed, true, true);
    models::TensorCollector collector;
    weights.visit(collector, parsed, true, true);
    io::write_safetensors((dir / "model.safetensors").string(), collector.tensors());
}

}  // namespace

std::string default_demo_model_dir() {
    fs::path home;
    if (const char* h = std::getenv("CANTER_HOME"); h && *h) {
        home = h;
    } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
        home = fs::path(x) / "canter";
    } else if (const char* u = std::getenv("HOME"); u && *u) {
        home = fs::path(u) / ".cache" / "canter";
    } else {
        home = fs::temp_directory_path() / "canter";
    }
    return (home / "demo-model").string();
}

std::string make_demo_model(const std::string& dir) {
    const fs::path target = fs::absolute(dir);
    // Built in a sibling folder and renamed into place, so a concurrent reader never sees a
    // half-written model and an interrupted run leaves nothing behind under `dir`.
    const fs::path tmp = target.string() + ".tmp-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    try {
        fs::create_directories(tmp);
        write_dit(tmp / "dit" / "distill", 101, {});
        write_dit(tmp / "dit" / "sr_540p", 102, {});
        write_dit(tmp / "dit" / "sr_1080p", 103, {0, 1, 2});
        write_text_encoder(tmp / "text_encoder", 104);
        write_video_vae(tmp / "video_vae", 105);
        write_turbo_vaed(tmp / "turbo_vaed", 106);
        write_audio_vae(tmp / "audio_vae", 107);
        write_json(tmp / pipeline::kManifestFileName,
                   {{"format", "canter-model"},
                    {"version", 1},
                    {"name", "canter-demo"},
                    {"demo", true},
                    {"demo_version", kDemoVersion},
                    {"description",
                     "Untrained toy model with the real architecture at tiny width and deterministic random "
                     "weights: it exercises every code path but generates noise, not your prompt."},
                    {"dit", {{"distill", "dit/distill"}, {"sr_540p", "dit/sr_540p"}, {"sr_1080p", "dit/sr_1080p"}}},
                    {"text_encoder", "text_encoder"},
                    {"tokenizer", "text_encoder"},
                    {"video_vae", "video_vae"},
                    {"turbo_vaed", "turbo_vaed"},
                    {"audio_vae", "audio_vae"}});
        if (fs::exists(target)) fs::remove_all(target);
        fs::create_directories(target.parent_path());
        fs::rename(tmp, target);
    } catch (const fs::filesystem_error& e) {
        fs::remove_all(tmp, ec);
        // Another process may have finished the same model first: that copy is as good.
        if (fs::exists(target / pipeline::kManifestFileName)) return (target / pipeline::kManifestFileName).string();
        CANTER_THROW(IO, "cannot create the demo model in " << target.string() << ": " << e.what());
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    return (target / pipeline::kManifestFileName).string();
}

int demo_model_version() { return kDemoVersion; }

}  // namespace canter
