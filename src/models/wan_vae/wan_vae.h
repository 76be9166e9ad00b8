// The Wan2.2 video VAE (upstream Wan-Video/Wan2.2 wan/modules/vae2_2.py `WanVAE_` and the
// `Wan2_2_VAE` wrapper; MagiHuman vendors it as inference/model/vae2_2). Spec encoders.md §1.
// encode(): video [B, 3, 1+4k, H, W] in [-1, 1] -> normalised latent [B, 48, 1+k, H/16, W/16],
// streamed like upstream (frame 0, then 4-frame chunks, CACHE_T = 2 causal-conv cache).
// decode(): normalised latent [B, 48, T', h, w] -> video [B, 3, 1+4(T'-1), 16h, 16w], one latent
// frame per decoder call with the same cache, clamped to [-1, 1] (decode_unclamped() skips it).
//
// Weights. The released file `Wan2.2_VAE.pth` (in Wan2.2-TI2V-5B/) is a torch pickle holding a
// plain `WanVAE_` state dict (196 tensors, no prefix). canter reads safetensors with the very
// same key names; convert it once with:
//   python -c "import torch,safetensors.torch as s; d=torch.load('Wan2.2_VAE.pth',map_location='cpu'); s.save_file({k:v.contiguous() for k,v in d.get('state_dict',d).items()},'Wan2.2_VAE.safetensors')"
// A model folder holds that file as `Wan2.2_VAE.safetensors`, `weights.safetensors` (the golden
// layout) or `model.safetensors`, plus an optional config.json (see wan_vae_config.h; without
// one the real configuration applies). Diffusers' AutoencoderKLWan files use other key names
// and are not accepted. Loading is strict: every key must be present with the shape the config
// implies, and nothing else may be in the file (except the unloaded half, see options).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/common/weights.h"
#include "models/wan_vae/wan_vae_blocks.h"
#include "models/wan_vae/wan_vae_config.h"
#include "models/common/wan_latent_scale.h"

namespace canter::wan_vae {

// `encoder.downsamples.{i}` / `decoder.upsamples.{i}`: blocks at .{downsamples|upsamples}.{j},
// the Resample (if any) right after them.
struct StageWeights {
    StagePlan plan;
    std::vector<ResidualBlock> blocks;
    Resample resample;
};

struct EncoderWeights {
    CausalConv3d conv1;  // 12 -> dim, k3
    std::vector<StageWeights> stages;
    ResidualBlock mid0, mid2;
    AttentionBlock mid_attn;
    at::Tensor head_gamma;  // head.0
    CausalConv3d head_conv;  // head.2: -> 2*z_dim, k3
};

struct DecoderWeights {
    CausalConv3d conv1;  // z_dim -> dec_dim*mult[-1], k3
    ResidualBlock mid0, mid2;
    AttentionBlock mid_attn;
    std::vector<StageWeights> stages;
    at::Tensor head_gamma;
    CausalConv3d head_conv;  // -> 12, k3
};

struct WanVaeWeights {
    EncoderWeights encoder;
    DecoderWeights decoder;
    CausalConv3d conv1;  // 1x1x1 on the encoder output (2*z_dim)
    CausalConv3d conv2;  // 1x1x1 on the de-normalised latent (z_dim)

    void visit(models::WeightVisitor& v, const WanVaeConfig& config, bool with_encoder = true,
               bool with_decoder = true);
};

struct WanVaeOptions {
    c10::Device device = c10::Device(c10::kCPU);
    bool load_encoder = true;  // `encoder.*` and `conv1.*`
    bool load_decoder = true;  // `decoder.*` and `conv2.*`
    // MagiHuman casts the whole wrapper to bf16. With this set, weights are rounded to bf16
    // values, inputs are rounded to bf16, and the latent normalisation runs in bf16 with
    // inv_std = bf16(1/bf16(std)) as upstream does; the network arithmetic stays fp32.
    bool bf16_rounding = false;
    // Test oracle / memory trade: run each encoder/decoder once over the whole clip instead of
    // streaming chunk by chunk (identical in exact arithmetic, spec §1.5).
    bool whole_sequence = false;
    // Spatial tiling of decode (memory): 0 = never. Otherwise latents larger than
    // `tile_latent_size` in h or w are decoded in tiles of that size overlapping by
    // `tile_overlap` latent pixels, blended across the overlap (wan_vae_tiling.h: accuracy
    // against overlap). The decoder middle (frame-global attention) always runs untiled.
    int64_t tile_latent_size = 0;
    int64_t tile_overlap = 16;
};

class WanVae {
public:
    // `path`: a .safetensors file or a model folder (see the header comment).
    static WanVae load(const std::string& path, const WanVaeConfig& config,
                       const WanVaeOptions& options = {});
    // Config from `<dir>/config.json` (or the real defaults) + weights from the same folder.
    static WanVae load_dir(const std::string& dir, const WanVaeOptions& options = {});
    // The weights file load() reads for `path` (a folder resolves to its VAE safetensors).
    static std::string weights_file(const std::string& path);
    // N(0, 1/fan_in) weights (norm gammas around 1), for tests and benchmarks.
    static WanVae random(const WanVaeConfig& config, const WanVaeOptions& options, uint64_t seed);

    // Video [B, 3, T, H, W] (any float dtype, values in [-1, 1]), H and W multiples of the
    // spatial stride (16) -> normalised latent [B, z_dim, 1 + (T-1)/4, H/16, W/16] fp32. As
    // upstream, trailing frames beyond the last full 4-frame chunk are ignored.
    at::Tensor encode(const at::Tensor& video) const;
    // The same before normalisation: mu, the first z_dim channels of conv1(encoder(video)).
    at::Tensor encode_mu(const at::Tensor& video) const;

    // Normalised latent [B, z_dim, T', h, w] -> video [B, 3, 1 + 4(T'-1), 16h, 16w] fp32.
    at::Tensor decode(const at::Tensor& latent) const;            // clamped to [-1, 1]
    at::Tensor decode_unclamped(const at::Tensor& latent) const;  // upstream WanVAE_.decode
    // The two halves of the decoder proper, each streamed over the latent frames with its own
    // cache. decode_middle: de-normalised, conv2-ed latent -> decoder.conv1 + middle (latent
    // resolution, holds the frame-global attention). decode_upsample: -> unpatchified video
    // (purely local convs: what spatial tiles run).
    at::Tensor decode_middle(const at::Tensor& x) const;
    at::Tensor decode_upsample(const at::Tensor& mid) const;

    at::Tensor normalize(const at::Tensor& mu) const;    // (mu - mean) * inv_std
    at::Tensor denormalize(const at::Tensor& z) const;   // z / inv_std + mean
    at::Tensor mean() const { return mean_; }            // [48] fp32
    at::Tensor inv_std() const { return inv_std_; }      // [48] fp32 (bf16 values if rounding)

    const WanVaeConfig& config() const { return config_; }
    const WanVaeOptions& options() const { return options_; }
    WanVaeOptions& mutable_options() { return options_; }
    const WanVaeWeights& weights() const { return weights_; }

private:
    void init_scale();
    at::Tensor prepare_input(const at::Tensor& x) const;  // fp32 on the device (bf16-rounded)
    at::Tensor encoder_forward(const at::Tensor& x, FeatureCache* cache) const;
    at::Tensor decoder_middle_forward(const at::Tensor& x, FeatureCache* cache) const;
    at::Tensor decoder_upsample_forward(const at::Tensor& x, FeatureCache* cache,
                                        bool first_chunk) const;

    WanVaeConfig config_;
    WanVaeOptions options_;
    WanVaeWeights weights_;
    at::Tensor mean_, inv_std_;
};

}  // namespace canter::wan_vae
