// Configuration of MagiHuman's TurboVAED decoder (upstream `TurboVAED.from_config`), read from
// the shipped JSON layout (`TurboV3-Wan22-TinyShallow_7_7.json`). The JSON lists blocks
// encoder-style (small widths first); the decoder walks them reversed. Everything here is in
// JSON order; `mid_block()` / `up_blocks()` give the decoder-order plan.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::turbo_vaed {

// One decoder up block, in execution order (already reversed from the JSON lists).
struct UpBlockPlan {
    int in_channels = 0;
    int out_channels = 0;
    int num_layers = 0;
    bool upsample = false;      // decoder_spatio_temporal_scaling: has a WanResample
    bool spatial_only = false;  // decoder_spatio_only: upsample2d (no time_conv, no frame drop)
    bool depthwise = false;     // decoder_is_dw_conv: depthwise-separable resnet convs
};

struct TurboVaedConfig {
    // Defaults are upstream's constructor defaults (diffusers fills absent keys with them).
    int latent_channels = 128;
    int out_channels = 3;
    std::vector<int> block_out_channels = {128, 256, 512, 512};
    std::vector<int> layers_per_block = {4, 3, 3, 3, 4};  // [up3.., mid] before reversal
    std::vector<bool> spatio_temporal_scaling = {true, true, true, false};
    std::vector<bool> spatio_only = {false, false, false, false};
    std::vector<bool> is_dw_conv = {false, false, false, false, false};
    int dw_kernel_size = 3;
    bool causal = false;
    int patch_size = 4;
    int patch_size_t = 1;
    double resnet_norm_eps = 1e-6;
    double scaling_factor = 1.0;
    int first_chunk_size = 3;
    int step_size = 5;
    int spatial_compression_ratio = 16;
    int temporal_compression_ratio = 4;
    bool use_unpatchify = false;

    // Upstream defaults overridden by the JSON's keys. Training-only / bookkeeping keys
    // (`_class_name`, `aligned_feature_projection_*`, `aligned_blks_indices`, `in_channels`, ...)
    // are accepted and ignored; unknown keys are reported on stderr; wrong types throw naming
    // the key. Calls validate().
    static TurboVaedConfig from_json(const nlohmann::json& j);
    // Reads `<dir>/config.json` (required: there is no canonical default for this decoder).
    static TurboVaedConfig from_model_dir(const std::string& dir);
    void validate() const;

    // Decoder-order structure.
    int mid_channels() const { return block_out_channels.back(); }
    int mid_layers() const { return layers_per_block.back(); }
    bool mid_depthwise() const { return is_dw_conv.back(); }
    std::vector<UpBlockPlan> up_blocks() const;
    int final_channels() const { return block_out_channels.front(); }
    // conv_out input/output widths (the pixel-shuffle head divides channels by 4).
    int conv_out_in_channels() const;
    int conv_out_out_channels() const;
    // Number of upsample3d stages: each doubles time (2T-1 on the first chunk).
    int temporal_upsamples() const;
    int spatial_upsamples() const;  // upsample2d/3d stages plus the head (x2 each)

    std::string summary() const;
};

}  // namespace canter::turbo_vaed
