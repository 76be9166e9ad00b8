// MagiHuman's TurboVAED: the fast video decoder used in place of the Wan2.2 VAE decoder
// (upstream inference/model/turbo_vaed/turbo_vaed_module.py `TurboVAED`, decoder only).
// decode(): de-normalise the DiT latent with the Wan2.2 constants, then decode it in
// overlapping stateless windows (turbo_vaed_window.h) and stitch the kept frames.
//
// Weights. The released checkpoint (`turbo_vae/checkpoint-340000.ckpt`) is a torch pickle
// {"ema_state_dict": {"module." + name: tensor}}; canter reads safetensors with the stripped
// names (`decoder.*`). Convert it once with:
//   python -c "import torch,safetensors.torch as s; d=torch.load('checkpoint-340000.ckpt',map_location='cpu')['ema_state_dict']; s.save_file({k.removeprefix('module.'):v.contiguous() for k,v in d.items()},'weights.safetensors')"
// A model folder holds `config.json` (the shipped `TurboV3-Wan22-TinyShallow_7_7.json`) and
// `weights.safetensors`. Loading is strict; keys still prefixed `module.` or saved without the
// `decoder.` prefix (both accepted upstream) are recognised, and only the training-time
// `aligned_feature_projection*` heads may be left over.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "models/common/weights.h"
#include "models/turbo_vaed/turbo_vaed_blocks.h"
#include "models/turbo_vaed/turbo_vaed_config.h"
#include "models/turbo_vaed/turbo_vaed_window.h"

namespace canter::turbo_vaed {

// Decode starts with z / inv_std + mean using the Wan2.2 latent statistics
// (models/common/wan_latent_scale.h), inv_std = 1 / std in fp32 as upstream does.

struct UpBlockWeights {
    bool has_conv_in = false;  // a ResnetBlock(in -> out) when the width changes
    ResnetBlock conv_in;
    bool has_upsampler = false;
    Upsampler upsampler;  // key upsamplers.0
    std::vector<ResnetBlock> resnets;
};

struct TurboVaedWeights {
    ReplicateConv3d conv_in;              // 3x3x3, latent -> mid width
    std::vector<ResnetBlock> mid;         // mid_block.resnets.{i}
    std::vector<UpBlockWeights> up;       // up_blocks.{i}
    at::Tensor head_weight, head_bias;    // upsampler2d_1.conv (pixel-shuffle head only)
    ReplicateConv3d conv_out;             // 3x3x3 -> out (or out*p*p before unpatchify)

    // Every tensor under `prefix` + its upstream decoder key (prefix "decoder." normally).
    void visit(models::WeightVisitor& v, const TurboVaedConfig& config,
               const std::string& prefix = "decoder.");
};

struct TurboVaedOptions {
    c10::Device device = c10::Device(c10::kCPU);
    // Upstream runs the decoder in bf16 (weights and the de-normalised latent). With this set,
    // weights and the de-normalised latent are rounded to bf16 values; the arithmetic stays fp32.
    bool bf16_rounding = false;
    // Spatial tiling of each window (memory), off when 0: latents wider or taller than
    // `tile_latent_size` are decoded in tiles of that size whose neighbours overlap by
    // `tile_overlap` latent pixels (linearly blended), each decoded with `tile_halo` pixels of
    // extra context; -1 = the decoder's receptive radius, which makes tiling exact (about 15
    // latent pixels for the real config). See turbo_vaed_tiling.h.
    int64_t tile_latent_size = 0;
    int64_t tile_overlap = 2;
    int64_t tile_halo = -1;
};

class TurboVaed {
public:
    // `path`: a weights .safetensors file or a model folder (weights.safetensors,
    // model.safetensors or diffusion_pytorch_model.safetensors).
    static TurboVaed load(const std::string& path, const TurboVaedConfig& config,
                          const TurboVaedOptions& options = {});
    // config.json + weights from one folder.
    static TurboVaed load_dir(const std::string& dir, const TurboVaedOptions& options = {});
    // The weights file load() reads for `path` (a folder resolves to its safetensors file).
    static std::string weights_file(const std::string& path);
    // N(0, 1/fan_in) weights, for tests and benchmarks.
    static TurboVaed random(const TurboVaedConfig& config, const TurboVaedOptions& options,
                            uint64_t seed);

    // Normalised DiT latent [B, 48, N, h, w] (any float dtype) -> video [B, out, 4N-3, 16h, 16w]
    // fp32, before the pipeline's *0.5+0.5 / clamp.
    at::Tensor decode(const at::Tensor& latent) const;
    // One stateless decoder call on an already de-normalised latent window.
    at::Tensor decode_window(const at::Tensor& z, bool is_first_chunk) const;
    // The untiled decoder call (what decode_window runs per tile).
    at::Tensor decoder_forward(const at::Tensor& z, bool is_first_chunk) const;
    at::Tensor denormalize(const at::Tensor& latent) const;
    WindowPlan plan(int64_t num_latent_frames) const { return plan_windows(num_latent_frames, config_); }

    const TurboVaedConfig& config() const { return config_; }
    const TurboVaedOptions& options() const { return options_; }
    TurboVaedOptions& mutable_options() { return options_; }
    const TurboVaedWeights& weights() const { return weights_; }

private:
    void check_latent(const at::Tensor& latent) const;

    TurboVaedConfig config_;
    TurboVaedOptions options_;
    TurboVaedWeights weights_;
};

}  // namespace canter::turbo_vaed
