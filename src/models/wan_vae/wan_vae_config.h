// Configuration of the Wan2.2 VAE (upstream `WanVAE_` keyword arguments, spec encoders.md §1.1)
// and the stage plan derived from it exactly as upstream's Encoder3d / Decoder3d constructors do.
//
// Where it comes from: the real checkpoint folder (`Wan2.2-TI2V-5B/`) ships no VAE config at all
// (its config.json is the DiT's), so the defaults below are the real model. A `config.json`
// holding a `WanVAE_kwargs` object (the layout of shared/golden/vae/wan22) overrides them.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::wan_vae {

// One encoder stage (`encoder.downsamples.{i}`) or decoder stage (`decoder.upsamples.{i}`):
// `num_blocks` ResidualBlocks (the first in -> out), then an optional Resample, all plus a
// parameter-free shortcut (AvgDown3D / DupUp3D) of the stage input when `has_shortcut`.
struct StagePlan {
    int64_t in_channels = 0;
    int64_t out_channels = 0;
    int num_blocks = 0;
    bool resample = false;  // spatial x2 (down or up) via a Resample block at index num_blocks
    bool temporal = false;  // the Resample is the 3d kind (time_conv), shortcut factor_t = 2
    bool has_shortcut = false;
};

struct WanVaeConfig {
    int64_t dim = 160;      // encoder base width (Wan2_2_VAE c_dim)
    int64_t dec_dim = 256;  // decoder base width
    int64_t z_dim = 48;     // latent channels; the encoder emits 2*z_dim (mean | log-variance)
    std::vector<int64_t> dim_mult = {1, 2, 4, 4};
    int num_res_blocks = 2;  // encoder blocks per stage; the decoder has one more
    std::vector<bool> temperal_downsample = {false, true, true};  // upstream's spelling

    // Accepts `{"WanVAE_kwargs": {...}, ...}` (golden layout; the other top-level keys are
    // bookkeeping) or a bare kwargs object. Wrong types and unknown kwargs throw naming the key.
    // Calls validate().
    static WanVaeConfig from_json(const nlohmann::json& j);
    // `<dir>/config.json` when it holds `WanVAE_kwargs`; otherwise (no file, or the DiT's
    // config.json of a Wan2.2-TI2V-5B folder) the real configuration.
    static WanVaeConfig from_model_dir(const std::string& dir);
    void validate() const;

    std::vector<StagePlan> encoder_stages() const;
    std::vector<StagePlan> decoder_stages() const;
    int64_t encoder_out_channels() const { return dim * dim_mult.back(); }  // middle/head width
    int64_t decoder_in_channels() const { return dec_dim * dim_mult.back(); }
    int64_t decoder_out_channels() const { return dec_dim * dim_mult.front(); }
    // Total strides: time x4 and space x16 for the real config (patchify 2 included).
    int64_t temporal_stride() const;
    int64_t spatial_stride() const;

    std::string summary() const;
};

}  // namespace canter::wan_vae
