#include "pipeline/test_model_presets.h"

#include <sstream>

#include "pipeline/model_manifest.h"
#include "util/check.h"

namespace canter::pipeline {

namespace {

nlohmann::json t5gemma_json(const nlohmann::json& encoder) {
    return {{"architectures", {"T5GemmaForConditionalGeneration"}},
            {"model_type", "t5gemma"},
            {"is_encoder_decoder", true},
            {"torch_dtype", "bfloat16"},
            {"encoder", encoder},
            {"decoder", encoder},
            {"pad_token_id", 0},
            {"eos_token_id", 1},
            {"bos_token_id", 2}};
}

nlohmann::json audio_json(int channels) {
    auto stack = [&](bool encoder) {
        nlohmann::json c = {{"c_mults", {1, 2, 4, 8, 16}}, {"channels", channels}, {"strides", {2, 4, 4, 8, 8}},
                            {"use_snake", true},            {"latent_dim", encoder ? 128 : 64}};
        if (encoder) c["in_channels"] = 2;
        else {
            c["out_channels"] = 2;
            c["final_tanh"] = false;
        }
        return nlohmann::json{{"type", "oobleck"}, {"config", c}};
    };
    return {{"model",
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
}

nlohmann::json turbo_json(std::vector<int> widths, std::vector<int> layers) {
    return {{"_class_name", "AutoencoderKLTurboVAED"},
            {"in_channels", 3},
            {"latent_channels", 48},
            {"out_channels", 3},
            {"decoder_block_out_channels", widths},
            {"decoder_layers_per_block", layers},
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
}

// The released model (spec pipeline.md §1.3-1.4, encoders.md §1.1, §2.1, §3.1, §4.2).
TestModelPreset magihuman_distill() {
    TestModelPreset p;
    p.name = "magihuman-distill";
    p.description = "daVinci-MagiHuman distilled, full size (15.3B DiT, T5Gemma-9B encoder)";
    p.dit = dit::DitConfig::real();
    p.sr_1080p_local_attn_layers = sr_1080p_local_attn_layers();
    p.t5gemma_config = t5gemma_json({{"vocab_size", 256000},
                                     {"hidden_size", 3584},
                                     {"intermediate_size", 14336},
                                     {"num_hidden_layers", 42},
                                     {"num_attention_heads", 16},
                                     {"num_key_value_heads", 8},
                                     {"head_dim", 256},
                                     {"query_pre_attn_scalar", 256},
                                     {"sliding_window", 4096},
                                     {"rope_theta", 10000.0},
                                     {"rms_norm_eps", 1e-6},
                                     {"attn_logit_softcapping", 50.0},
                                     {"final_logit_softcapping", 30.0},
                                     {"hidden_activation", "gelu_pytorch_tanh"},
                                     {"max_position_embeddings", 8192},
                                     {"attention_bias", false},
                                     {"pad_token_id", 0},
                                     {"eos_token_id", 1},
                                     {"bos_token_id", 2}});
    p.turbo_vaed_config = turbo_json({64, 128, 256, 512}, {2, 2, 2, 3, 3});
    p.audio_config = audio_json(128);
    return p;
}

// The demo model's widths (demo_model.cpp): every component, a few MB in all.
TestModelPreset tiny() {
    TestModelPreset p;
    p.name = "tiny";
    p.description = "the real architecture at the demo model's toy widths (a few MB; tests)";
    p.dit_arch = {{"num_layers", 4},
                  {"hidden_size", 64},
                  {"head_dim", 32},
                  {"num_query_groups", 1},
                  {"video_in_channels", 192},
                  {"audio_in_channels", 64},
                  {"text_in_channels", 64},
                  {"mm_layers", {0, 3}},
                  {"gelu7_layers", {0}},
                  {"enable_attn_gating", true}};
    p.dit = dit::DitConfig::from_json(p.dit_arch);
    p.sr_1080p_local_attn_layers = {0, 1, 2};
    p.t5gemma_config = t5gemma_json({{"hidden_size", 64},         {"intermediate_size", 128}, {"num_hidden_layers", 2},
                                     {"num_attention_heads", 2},  {"num_key_value_heads", 1}, {"head_dim", 32},
                                     {"query_pre_attn_scalar", 32}, {"sliding_window", 64},   {"rope_theta", 10000.0},
                                     {"rms_norm_eps", 1e-6},      {"attn_logit_softcapping", 50.0},
                                     {"hidden_activation", "gelu_pytorch_tanh"},
                                     {"vocab_size", 512},         {"pad_token_id", 0},        {"eos_token_id", 1},
                                     {"bos_token_id", 2}});
    p.wan_config = {{"WanVAE_kwargs",
                     {{"dim", 8},
                      {"dec_dim", 8},
                      {"z_dim", 48},
                      {"dim_mult", {1, 2, 2, 2}},
                      {"num_res_blocks", 1},
                      {"temperal_downsample", {false, true, true}},
                      {"attn_scales", nlohmann::json::array()},
                      {"dropout", 0.0}}}};
    p.turbo_vaed_config = turbo_json({8, 16, 32, 64}, {1, 1, 1, 1, 1});
    p.audio_config = audio_json(4);
    return p;
}

}  // namespace

std::vector<std::string> test_model_preset_names() { return {"magihuman-distill", "tiny"}; }

const TestModelPreset& find_test_model_preset(const std::string& name) {
    static const TestModelPreset kPresets[] = {magihuman_distill(), tiny()};
    for (const auto& p : kPresets)
        if (p.name == name) return p;
    std::ostringstream known;
    for (const auto& n : test_model_preset_names()) known << (known.tellp() ? ", " : "") << n;
    CANTER_THROW(InvalidArgument, "unknown test-model preset '" << name << "' (known: " << known.str() << ")");
}

}  // namespace canter::pipeline
