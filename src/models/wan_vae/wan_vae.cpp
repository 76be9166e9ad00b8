#include "models/wan_vae/wan_vae.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>

#include "io/checkpoint.h"
#include "models/wan_vae/wan_vae_ops.h"
#include "models/wan_vae/wan_vae_tiling.h"
#include "tensor/compat.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::wan_vae {

namespace {

constexpr int64_t kPatchChannels = 12;  // 3 RGB channels after the 2x2 patchify
constexpr int64_t kEncodeChunk = 4;     // frames per encoder call after the first (upstream)

std::string resolve_weights(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(path)) return path;
    for (const char* name :
         {"Wan2.2_VAE.safetensors", "weights.safetensors", "model.safetensors"}) {
        const fs::path p = fs::path(path) / name;
        if (fs::exists(p)) return p.string();
    }
    const bool has_pth = fs::exists(fs::path(path) / "Wan2.2_VAE.pth");
    CANTER_THROW(NotFound, path << ": no Wan2.2 VAE weights (looked for Wan2.2_VAE.safetensors, "
                                   "weights.safetensors, model.safetensors)"
                                << (has_pth ? "; Wan2.2_VAE.pth is a torch pickle: convert it "
                                              "with the one-liner in wan_vae.h"
                                            : ""));
}

std::string idx(const std::string& prefix, size_t i) { return prefix + std::to_string(i); }

void visit_stages(models::WeightVisitor& v, std::vector<StageWeights>& stages,
                  const std::vector<StagePlan>& plans, const std::string& prefix, bool down) {
    stages.resize(plans.size());
    for (size_t i = 0; i < plans.size(); ++i) {
        StageWeights& s = stages[i];
        s.plan = plans[i];
        const std::string p = idx(prefix, i) + (down ? ".downsamples." : ".upsamples.");
        s.blocks.resize(s.plan.num_blocks);
        int64_t in = s.plan.in_channels;
        for (int j = 0; j < s.plan.num_blocks; ++j) {
            s.blocks[j].visit(v, idx(p, j), in, s.plan.out_channels);
            in = s.plan.out_channels;
        }
        if (!s.plan.resample) continue;
        const ResampleMode mode =
            down ? (s.plan.temporal ? ResampleMode::kDownsample3d : ResampleMode::kDownsample2d)
                 : (s.plan.temporal ? ResampleMode::kUpsample3d : ResampleMode::kUpsample2d);
        s.resample.visit(v, idx(p, s.plan.num_blocks), s.plan.out_channels, mode);
    }
}

// Fills slots with N(0, 1/fan_in) weights, small biases and norm gammas around 1.
struct RandomFill : models::WeightVisitor {
    RandomFill(at::Generator g, c10::Device d) : gen(std::move(g)), device(d) {}
    at::Generator gen;
    c10::Device device;
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool) override {
        const at::Tensor r = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
        const bool gamma = key.size() >= 5 && key.compare(key.size() - 5, 5, "gamma") == 0;
        int64_t fan_in = 1;
        for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
        at::Tensor t;
        if (gamma) t = r * 0.1 + 1.0;
        else if (shape.size() == 1) t = r * 0.02;
        else t = r / std::sqrt(static_cast<double>(fan_in));
        slot = t.to(device, dtype);
    }
};

at::Tensor encoder_stage(const StageWeights& s, const at::Tensor& x, FeatureCache* cache) {
    at::Tensor y = x;
    for (const auto& b : s.blocks) y = b.forward(y, cache);
    if (s.plan.resample) y = s.resample.forward(y, cache);
    return y.add_(avg_down3d(x, s.plan.out_channels, s.plan.temporal ? 2 : 1,
                             s.plan.resample ? 2 : 1));
}

at::Tensor decoder_stage(const StageWeights& s, const at::Tensor& x, FeatureCache* cache,
                         bool first_chunk) {
    at::Tensor y = x;
    for (const auto& b : s.blocks) y = b.forward(y, cache);
    if (s.plan.resample) y = s.resample.forward(y, cache);
    if (!s.plan.has_shortcut) return y;
    return y.add_(dup_up3d(x, s.plan.out_channels, s.plan.temporal ? 2 : 1, 2, first_chunk));
}

at::Tensor channel_view(const at::Tensor& t) { return t.view({1, -1, 1, 1, 1}); }

}  // namespace

// --- weights -------------------------------------------------------------------------------------

void WanVaeWeights::visit(models::WeightVisitor& v, const WanVaeConfig& c, bool with_encoder,
                          bool with_decoder) {
    const int64_t z2 = 2 * c.z_dim;
    if (with_encoder) {
        EncoderWeights& e = encoder;
        const int64_t ch = c.encoder_out_channels();
        e.conv1.visit(v, "encoder.conv1", kPatchChannels, c.dim, {3, 3, 3}, {1, 1, 1});
        visit_stages(v, e.stages, c.encoder_stages(), "encoder.downsamples.", /*down=*/true);
        e.mid0.visit(v, "encoder.middle.0", ch, ch);
        e.mid_attn.visit(v, "encoder.middle.1", ch);
        e.mid2.visit(v, "encoder.middle.2", ch, ch);
        v.visit("encoder.head.0.gamma", e.head_gamma, {ch, 1, 1, 1}, at::kFloat);
        e.head_conv.visit(v, "encoder.head.2", ch, z2, {3, 3, 3}, {1, 1, 1});
        conv1.visit(v, "conv1", z2, z2, {1, 1, 1}, {0, 0, 0});
    }
    if (with_decoder) {
        DecoderWeights& d = decoder;
        const int64_t ch = c.decoder_in_channels();
        conv2.visit(v, "conv2", c.z_dim, c.z_dim, {1, 1, 1}, {0, 0, 0});
        d.conv1.visit(v, "decoder.conv1", c.z_dim, ch, {3, 3, 3}, {1, 1, 1});
        d.mid0.visit(v, "decoder.middle.0", ch, ch);
        d.mid_attn.visit(v, "decoder.middle.1", ch);
        d.mid2.visit(v, "decoder.middle.2", ch, ch);
        visit_stages(v, d.stages, c.decoder_stages(), "decoder.upsamples.", /*down=*/false);
        const int64_t out = c.decoder_out_channels();
        v.visit("decoder.head.0.gamma", d.head_gamma, {out, 1, 1, 1}, at::kFloat);
        d.head_conv.visit(v, "decoder.head.2", out, kPatchChannels, {3, 3, 3}, {1, 1, 1});
    }
}

// --- loading -------------------------------------------------------------------------------------

WanVae WanVae::load(const std::string& path, const WanVaeConfig& config,
                    const WanVaeOptions& options) {
    config.validate();
    CANTER_CHECK(options.load_encoder || options.load_decoder, InvalidArgument,
                 "Wan VAE: nothing to load (load_encoder and load_decoder are both off)");
    tensor::InferenceGuard guard;
    WanVae model;
    model.config_ = config;
    model.options_ = options;
    const io::Checkpoint ckpt = io::Checkpoint::open(resolve_weights(path));
    models::CheckpointBinder binder(ckpt, options.device);
    model.weights_.visit(binder, config, options.load_encoder, options.load_decoder);
    std::vector<std::string> ignored;
    if (!options.load_encoder) ignored = {"encoder.", "conv1."};
    if (!options.load_decoder) ignored = {"decoder.", "conv2."};
    binder.finish(ignored);
    if (options.bf16_rounding) {
        models::Bf16Rounder round;
        model.weights_.visit(round, config, options.load_encoder, options.load_decoder);
    }
    model.init_scale();
    return model;
}

std::string WanVae::weights_file(const std::string& path) { return resolve_weights(path); }

WanVae WanVae::load_dir(const std::string& dir, const WanVaeOptions& options) {
    return load(dir, WanVaeConfig::from_model_dir(dir), options);
}

WanVae WanVae::random(const WanVaeConfig& config, const WanVaeOptions& options, uint64_t seed) {
    config.validate();
    tensor::InferenceGuard guard;
    WanVae model;
    model.config_ = config;
    model.options_ = options;
    RandomFill fill(at::make_generator<at::CPUGeneratorImpl>(seed), options.device);
    model.weights_.visit(fill, config, options.load_encoder, options.load_decoder);
    model.init_scale();
    return model;
}

void WanVae::init_scale() {
    CANTER_CHECK(config_.z_dim == 48, InvalidArgument,
                 "Wan VAE: z_dim must be 48 (the hard-coded latent mean/std have 48 entries), got "
                     << config_.z_dim);
    mean_ = models::wan_latent_mean();
    inv_std_ = models::wan_latent_inv_std(options_.bf16_rounding);
    if (options_.bf16_rounding) mean_ = tensor::round_bf16(mean_);
    mean_ = mean_.to(options_.device);
    inv_std_ = inv_std_.to(options_.device);
}

// --- normalisation -------------------------------------------------------------------------------

at::Tensor WanVae::normalize(const at::Tensor& mu) const {
    if (options_.bf16_rounding) {
        // Upstream's bf16 wrapper: every op of the normalisation rounds to bf16.
        const auto bf = at::kBFloat16;
        return ((mu.to(bf) - channel_view(mean_).to(bf)) * channel_view(inv_std_).to(bf))
            .to(at::kFloat);
    }
    return (mu - channel_view(mean_)) * channel_view(inv_std_);
}

at::Tensor WanVae::denormalize(const at::Tensor& z) const {
    if (options_.bf16_rounding) {
        const auto bf = at::kBFloat16;
        return (z.to(bf) / channel_view(inv_std_).to(bf) + channel_view(mean_).to(bf))
            .to(at::kFloat);
    }
    return z / channel_view(inv_std_) + channel_view(mean_);
}

at::Tensor WanVae::prepare_input(const at::Tensor& x) const {
    at::Tensor y = x.to(options_.device, at::kFloat);
    return options_.bf16_rounding ? tensor::round_bf16(y) : y;
}

// --- encode --------------------------------------------------------------------------------------

at::Tensor WanVae::encoder_forward(const at::Tensor& x_in, FeatureCache* cache) const {
    const EncoderWeights& e = weights_.encoder;
    if (cache) cache->begin_chunk();
    at::Tensor x = e.conv1.forward_cached(x_in, cache);
    for (const auto& s : e.stages) x = encoder_stage(s, x, cache);
    x = e.mid0.forward(x, cache);
    x = e.mid_attn.forward(x);
    x = e.mid2.forward(x, cache);
    x = norm_silu(x, e.head_gamma);
    return e.head_conv.forward_cached(x, cache);
}

at::Tensor WanVae::encode_mu(const at::Tensor& video) const {
    CANTER_CHECK(weights_.encoder.conv1.weight.defined(), InvalidArgument,
                 "Wan VAE encode: the encoder was not loaded (WanVaeOptions::load_encoder)");
    CANTER_CHECK(video.defined() && video.dim() == 5, InvalidArgument,
                 "Wan VAE encode: video must be [B, 3, T, H, W], got "
                     << (video.defined() ? shape_str(video.sizes().vec()) : "undefined"));
    CANTER_CHECK(at::isFloatingType(video.scalar_type()), InvalidArgument,
                 "Wan VAE encode: video must be floating point, got " << video.scalar_type());
    const int64_t stride = config_.spatial_stride();
    CANTER_CHECK(video.size(1) == 3, InvalidArgument,
                 "Wan VAE encode: video " << shape_str(video.sizes().vec())
                                          << " must have 3 channels (RGB), got " << video.size(1));
    CANTER_CHECK(video.size(0) >= 1 && video.size(2) >= 1, InvalidArgument,
                 "Wan VAE encode: video " << shape_str(video.sizes().vec())
                                          << " has no frames or no batch");
    CANTER_CHECK(video.size(3) > 0 && video.size(4) > 0 && video.size(3) % stride == 0 &&
                     video.size(4) % stride == 0,
                 InvalidArgument,
                 "Wan VAE encode: video height and width must be positive multiples of "
                     << stride << ", got H=" << video.size(3) << " W=" << video.size(4)
                     << " (video " << shape_str(video.sizes().vec()) << ")");
    tensor::InferenceGuard guard;
    const at::Tensor x = patchify(prepare_input(video));
    const int64_t chunks = 1 + (x.size(2) - 1) / kEncodeChunk;
    at::Tensor out;
    if (options_.whole_sequence) {
        out = encoder_forward(x.narrow(2, 0, 1 + kEncodeChunk * (chunks - 1)), nullptr);
    } else {
        FeatureCache cache;
        std::vector<at::Tensor> outs;
        outs.push_back(encoder_forward(x.narrow(2, 0, 1), &cache));
        for (int64_t i = 1; i < chunks; ++i)
            outs.push_back(encoder_forward(x.narrow(2, 1 + kEncodeChunk * (i - 1), kEncodeChunk),
                                           &cache));
        out = outs.size() == 1 ? outs[0] : at::cat(outs, 2);
    }
    // conv1 is 1x1x1: computing only its mean half gives the same values as upstream's
    // conv-then-chunk, and the log-variance is discarded anyway.
    const int64_t z = config_.z_dim;
    return at::conv3d(out, weights_.conv1.weight.narrow(0, 0, z),
                      weights_.conv1.bias.narrow(0, 0, z));
}

at::Tensor WanVae::encode(const at::Tensor& video) const {
    tensor::InferenceGuard guard;
    return normalize(encode_mu(video));
}

// --- decode --------------------------------------------------------------------------------------

at::Tensor WanVae::decoder_middle_forward(const at::Tensor& x_in, FeatureCache* cache) const {
    const DecoderWeights& d = weights_.decoder;
    if (cache) cache->begin_chunk();
    at::Tensor x = d.conv1.forward_cached(x_in, cache);
    x = d.mid0.forward(x, cache);
    x = d.mid_attn.forward(x);
    return d.mid2.forward(x, cache);
}

at::Tensor WanVae::decoder_upsample_forward(const at::Tensor& x_in, FeatureCache* cache,
                                            bool first_chunk) const {
    const DecoderWeights& d = weights_.decoder;
    if (cache) cache->begin_chunk();
    at::Tensor x = x_in;
    for (const auto& s : d.stages) x = decoder_stage(s, x, cache, first_chunk);
    x = norm_silu(x, d.head_gamma);
    return d.head_conv.forward_cached(x, cache);
}

// Upstream interleaves the two halves per latent frame; running the middle over every frame
// first is the same computation (each half only sees its own cache and earlier frames).
at::Tensor WanVae::decode_middle(const at::Tensor& x) const {
    tensor::InferenceGuard guard;
    if (options_.whole_sequence) return decoder_middle_forward(x, nullptr);
    FeatureCache cache;
    std::vector<at::Tensor> outs;
    for (int64_t i = 0; i < x.size(2); ++i)
        outs.push_back(decoder_middle_forward(x.narrow(2, i, 1), &cache));
    return outs.size() == 1 ? outs[0] : at::cat(outs, 2);
}

at::Tensor WanVae::decode_upsample(const at::Tensor& mid) const {
    tensor::InferenceGuard guard;
    at::Tensor out;
    if (options_.whole_sequence) {
        out = decoder_upsample_forward(mid, nullptr, /*first_chunk=*/true);
    } else {
        FeatureCache cache;
        std::vector<at::Tensor> outs;
        for (int64_t i = 0; i < mid.size(2); ++i)
            outs.push_back(decoder_upsample_forward(mid.narrow(2, i, 1), &cache, i == 0));
        out = outs.size() == 1 ? outs[0] : at::cat(outs, 2);
    }
    return unpatchify(out);
}

at::Tensor WanVae::decode_unclamped(const at::Tensor& latent) const {
    CANTER_CHECK(weights_.decoder.conv1.weight.defined(), InvalidArgument,
                 "Wan VAE decode: the decoder was not loaded (WanVaeOptions::load_decoder)");
    CANTER_CHECK(latent.defined() && latent.dim() == 5, InvalidArgument,
                 "Wan VAE decode: latent must be [B, " << config_.z_dim << ", T, h, w], got "
                     << (latent.defined() ? shape_str(latent.sizes().vec()) : "undefined"));
    CANTER_CHECK(at::isFloatingType(latent.scalar_type()), InvalidArgument,
                 "Wan VAE decode: latent must be floating point, got " << latent.scalar_type());
    CANTER_CHECK(latent.size(1) == config_.z_dim, InvalidArgument,
                 "Wan VAE decode: latent " << shape_str(latent.sizes().vec()) << " has "
                                           << latent.size(1) << " channels, expected z_dim = "
                                           << config_.z_dim);
    CANTER_CHECK(latent.size(0) >= 1 && latent.size(2) >= 1 && latent.size(3) >= 1 &&
                     latent.size(4) >= 1,
                 InvalidArgument,
                 "Wan VAE decode: latent " << shape_str(latent.sizes().vec()) << " is empty");
    tensor::InferenceGuard guard;
    const at::Tensor x = weights_.conv2.forward(denormalize(prepare_input(latent)));
    const at::Tensor mid = decode_middle(x);
    const int64_t tile = options_.tile_latent_size;
    if (tile > 0 && (mid.size(3) > tile || mid.size(4) > tile))
        return decode_upsample_tiled(*this, mid);
    return decode_upsample(mid);
}

at::Tensor WanVae::decode(const at::Tensor& latent) const {
    tensor::InferenceGuard guard;
    return decode_unclamped(latent).clamp_(-1.0, 1.0);
}

}  // namespace canter::wan_vae
