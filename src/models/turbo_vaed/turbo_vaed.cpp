#include "models/turbo_vaed/turbo_vaed.h"

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>

#include "io/checkpoint.h"
#include "models/common/wan_latent_scale.h"
#include "models/turbo_vaed/turbo_vaed_tiling.h"
#include "tensor/compat.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::turbo_vaed {

namespace {

std::string resolve_weights(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(path)) return path;
    for (const char* name : {"weights.safetensors", "model.safetensors",
                             "diffusion_pytorch_model.safetensors"}) {
        const fs::path p = fs::path(path) / name;
        if (fs::exists(p)) return p.string();
    }
    CANTER_THROW(NotFound, path << ": no TurboVAED weights (looked for weights.safetensors, "
                                   "model.safetensors, diffusion_pytorch_model.safetensors); "
                                   "convert the torch checkpoint as described in turbo_vaed.h");
}

// Where the decoder's keys start in this checkpoint: upstream strips one `module.` and also
// accepts a decoder state dict saved without the `decoder.` prefix.
std::string decoder_prefix(const io::Checkpoint& ckpt) {
    for (const char* p : {"decoder.", "module.decoder.", ""})
        if (ckpt.contains(std::string(p) + "conv_in.conv.weight")) return p;
    return "decoder.";  // nothing recognisable: report the keys under their canonical names
}

// Fills slots with N(0, 1/fan_in) (biases small) from one generator.
struct RandomFill : models::WeightVisitor {
    RandomFill(at::Generator g, c10::Device d) : gen(std::move(g)), device(d) {}
    at::Generator gen;
    c10::Device device;
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool) override {
        int64_t fan_in = 1;
        for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
        const double scale = shape.size() > 1 ? 1.0 / std::sqrt(double(fan_in)) : 0.02;
        slot = (at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * scale)
                   .to(device, dtype);
    }
};

}  // namespace

void TurboVaedWeights::visit(models::WeightVisitor& v, const TurboVaedConfig& c,
                             const std::string& p) {
    const int k = c.dw_kernel_size;
    const double eps = c.resnet_norm_eps;
    conv_in.visit(v, p + "conv_in", c.latent_channels, c.mid_channels(), {3, 3, 3}, false);
    mid.resize(c.mid_layers());
    for (int i = 0; i < c.mid_layers(); ++i)
        mid[i].visit(v, p + "mid_block.resnets." + std::to_string(i), c.mid_channels(),
                     c.mid_channels(), c.mid_depthwise(), k, false, eps);
    const auto plan = c.up_blocks();
    up.resize(plan.size());
    for (size_t b = 0; b < plan.size(); ++b) {
        const auto& bp = plan[b];
        auto& ub = up[b];
        const std::string bk = p + "up_blocks." + std::to_string(b);
        ub.has_conv_in = bp.in_channels != bp.out_channels;
        if (ub.has_conv_in)
            ub.conv_in.visit(v, bk + ".conv_in", bp.in_channels, bp.out_channels, bp.depthwise, k,
                             false, eps);
        ub.has_upsampler = bp.upsample;
        if (ub.has_upsampler)
            ub.upsampler.visit(v, bk + ".upsamplers.0", bp.out_channels, !bp.spatial_only);
        ub.resnets.resize(bp.num_layers);
        for (int i = 0; i < bp.num_layers; ++i)
            ub.resnets[i].visit(v, bk + ".resnets." + std::to_string(i), bp.out_channels,
                                bp.out_channels, bp.depthwise, k, /*relu_first=*/bp.upsample, eps);
    }
    if (!c.use_unpatchify) {
        const int64_t ch = c.final_channels();
        v.visit(p + "upsampler2d_1.conv.weight", head_weight, {ch, ch, 3, 3}, at::kFloat);
        v.visit(p + "upsampler2d_1.conv.bias", head_bias, {ch}, at::kFloat);
    }
    conv_out.visit(v, p + "conv_out", c.conv_out_in_channels(), c.conv_out_out_channels(),
                   {3, 3, 3}, false);
}

TurboVaed TurboVaed::load(const std::string& path, const TurboVaedConfig& config,
                          const TurboVaedOptions& options) {
    config.validate();
    tensor::InferenceGuard guard;
    TurboVaed model;
    model.config_ = config;
    model.options_ = options;
    const io::Checkpoint ckpt = io::Checkpoint::open(resolve_weights(path));
    const std::string prefix = decoder_prefix(ckpt);
    models::CheckpointBinder binder(ckpt, options.device);
    model.weights_.visit(binder, config, prefix);
    // Training-time distillation heads that upstream's strict=False load drops silently.
    std::vector<std::string> ignored;
    for (const char* root : {"", "module.", "decoder.", "module.decoder."})
        ignored.push_back(std::string(root) + "aligned_feature_projection");
    binder.finish(ignored);
    if (options.bf16_rounding) {
        models::Bf16Rounder round;
        model.weights_.visit(round, config, prefix);
    }
    return model;
}

std::string TurboVaed::weights_file(const std::string& path) { return resolve_weights(path); }

TurboVaed TurboVaed::load_dir(const std::string& dir, const TurboVaedOptions& options) {
    return load(dir, TurboVaedConfig::from_model_dir(dir), options);
}

TurboVaed TurboVaed::random(const TurboVaedConfig& config, const TurboVaedOptions& options,
                            uint64_t seed) {
    config.validate();
    tensor::InferenceGuard guard;
    TurboVaed model;
    model.config_ = config;
    model.options_ = options;
    RandomFill fill(at::make_generator<at::CPUGeneratorImpl>(seed), options.device);
    model.weights_.visit(fill, config);
    return model;
}

void TurboVaed::check_latent(const at::Tensor& z) const {
    CANTER_CHECK(z.defined(), InvalidArgument, "TurboVAED decode: latent is undefined");
    CANTER_CHECK(z.dim() == 5, InvalidArgument,
                 "TurboVAED decode: latent must be [B, " << config_.latent_channels
                     << ", frames, h, w], got rank " << z.dim() << " shape "
                     << shape_str(z.sizes().vec()));
    CANTER_CHECK(z.size(1) == config_.latent_channels, InvalidArgument,
                 "TurboVAED decode: latent has " << z.size(1) << " channels (shape "
                     << shape_str(z.sizes().vec()) << "), the decoder expects "
                     << config_.latent_channels);
    CANTER_CHECK(z.size(0) >= 1 && z.size(2) >= 1 && z.size(3) >= 1 && z.size(4) >= 1,
                 InvalidArgument,
                 "TurboVAED decode: latent shape " << shape_str(z.sizes().vec())
                                                   << " has an empty dim");
    CANTER_CHECK(at::isFloatingType(z.scalar_type()), InvalidArgument,
                 "TurboVAED decode: latent must be floating point, got " << z.scalar_type());
}

at::Tensor TurboVaed::denormalize(const at::Tensor& latent) const {
    check_latent(latent);
    const auto dev = options_.device;
    at::Tensor z = latent.to(dev, at::kFloat);
    const at::Tensor inv_std = models::wan_latent_inv_std().to(dev).view({1, 48, 1, 1, 1});
    z = z / inv_std + models::wan_latent_mean().to(dev).view({1, 48, 1, 1, 1});
    // Upstream casts the result back to the latent's dtype (bf16 in MagiHuman).
    if (options_.bf16_rounding || latent.scalar_type() == at::kBFloat16) z = tensor::round_bf16(z);
    return z;
}

at::Tensor TurboVaed::decoder_forward(const at::Tensor& z, bool is_first_chunk) const {
    tensor::InferenceGuard guard;
    const auto& w = weights_;
    at::Tensor h = w.conv_in.forward(z);
    for (const auto& r : w.mid) h = r.forward(h);
    for (const auto& ub : w.up) {
        if (ub.has_conv_in) h = ub.conv_in.forward(h);
        if (ub.has_upsampler) h = ub.upsampler.forward(h, is_first_chunk);
        for (const auto& r : ub.resnets) h = r.forward(h);
    }
    if (!config_.use_unpatchify) {
        // Pixel-shuffle head: norm_up_1 + SiLU, per-frame 3x3 conv, pixel_shuffle(2).
        h = rms_norm_silu(h, 1e-8);
        h = per_frame_pixel_shuffle(per_frame_conv2d(h, w.head_weight, w.head_bias), 2);
    }
    h = rms_norm_silu(h, 1e-8);
    h = w.conv_out.forward(h);
    if (config_.use_unpatchify) h = unpatchify(h, config_.patch_size);
    return h;
}

at::Tensor TurboVaed::decode_window(const at::Tensor& z, bool is_first_chunk) const {
    const int64_t tile = options_.tile_latent_size;
    if (tile > 0 && (z.size(3) > tile || z.size(4) > tile)) {
        TileSpec spec;
        spec.tile = tile;
        spec.overlap = options_.tile_overlap;
        spec.halo = options_.tile_halo < 0 ? receptive_radius(config_) : options_.tile_halo;
        spec.scale = int64_t(1) << config_.spatial_upsamples();
        return decode_tiled(z, spec, [&](const at::Tensor& t) {
            return decoder_forward(t, is_first_chunk);
        });
    }
    return decoder_forward(z, is_first_chunk);
}

at::Tensor TurboVaed::decode(const at::Tensor& latent) const {
    tensor::InferenceGuard guard;
    at::Tensor z = denormalize(latent);
    const WindowPlan p = plan(z.size(2));
    if (p.num_padding_frames > 0) {
        std::vector<int64_t> sizes = z.sizes().vec();
        sizes[2] = p.num_padding_frames;
        z = at::cat({z, z.narrow(2, z.size(2) - 1, 1).expand(sizes)}, 2);
    }
    // Windows run one after another; each window's activations are freed before the next.
    std::vector<at::Tensor> pieces;
    for (const auto& c : p.calls) {
        at::Tensor out = decode_window(z.narrow(2, c.latent_begin, c.latent_end - c.latent_begin),
                                       c.is_first_chunk);
        CANTER_CHECK(out.size(2) == c.decoder_output_frames, Internal,
                     "TurboVAED window [" << c.latent_begin << ", " << c.latent_end << ") gave "
                                          << out.size(2) << " frames, planned "
                                          << c.decoder_output_frames);
        pieces.push_back(out.narrow(2, c.keep_begin, c.keep_end - c.keep_begin).contiguous());
    }
    at::Tensor video = pieces.size() == 1 ? pieces[0] : at::cat(pieces, 2);
    return video.narrow(2, 0, p.output_frames).contiguous();
}

}  // namespace canter::turbo_vaed
