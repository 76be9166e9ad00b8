#include "models/audio_vae/audio_vae.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "io/checkpoint.h"
#include "tensor/compat.h"
#include "util/check.h"

namespace canter::audio_vae {

namespace {

constexpr int64_t kDilations[3] = {1, 3, 9};

std::string sub(const std::string& prefix, size_t i) {
    return prefix + "layers." + std::to_string(i) + ".";
}

void visit_unit(models::WeightVisitor& v, ResidualUnitWeights& u, const std::string& p,
                int64_t channels, int64_t dilation, bool snake) {
    u.dilation = dilation;
    if (snake) u.act1.visit(v, sub(p, 0), channels);
    u.conv1.visit(v, sub(p, 1), {channels, channels, 7}, channels);
    if (snake) u.act2.visit(v, sub(p, 2), channels);
    u.conv2.visit(v, sub(p, 3), {channels, channels, 1}, channels);
}

void visit_encoder(models::WeightVisitor& v, OobleckWeights& w, const OobleckConfig& c,
                   const std::string& p) {
    const auto widths = c.widths();
    const size_t n = c.strides.size();
    w.conv_in.visit(v, sub(p, 0), {widths[0], c.io_channels, 7}, widths[0]);
    w.blocks.resize(n);
    for (size_t i = 0; i < n; ++i) {
        auto& b = w.blocks[i];
        const std::string bp = sub(p, i + 1);
        const int64_t in = widths[i], out = widths[i + 1], s = c.strides[i];
        b.stride = s;
        for (int u = 0; u < 3; ++u)
            visit_unit(v, b.units[u], sub(bp, u), in, kDilations[u], c.use_snake);
        if (c.use_snake) b.act.visit(v, sub(bp, 3), in);
        b.conv.visit(v, sub(bp, 4), {out, in, 2 * s}, out);
    }
    if (c.use_snake) w.act_out.visit(v, sub(p, n + 1), widths[n]);
    w.conv_out.visit(v, sub(p, n + 2), {c.latent_dim, widths[n], 3}, c.latent_dim);
}

void visit_decoder(models::WeightVisitor& v, OobleckWeights& w, const OobleckConfig& c,
                   const std::string& p) {
    const auto widths = c.widths();
    const size_t n = c.strides.size();
    w.conv_in.visit(v, sub(p, 0), {widths[n], c.latent_dim, 7}, widths[n]);
    w.blocks.resize(n);
    for (size_t j = 0; j < n; ++j) {
        const size_t i = n - j;  // upstream walks the widths from the widest down
        auto& b = w.blocks[j];
        const std::string bp = sub(p, j + 1);
        const int64_t in = widths[i], out = widths[i - 1], s = c.strides[i - 1];
        b.stride = s;
        if (c.use_snake) b.act.visit(v, sub(bp, 0), in);
        b.conv.visit(v, sub(bp, 1), {in, out, 2 * s}, out);  // ConvTranspose1d: [in, out, k]
        for (int u = 0; u < 3; ++u)
            visit_unit(v, b.units[u], sub(bp, u + 2), out, kDilations[u], c.use_snake);
    }
    if (c.use_snake) w.act_out.visit(v, sub(p, n + 1), widths[0]);
    w.conv_out.visit(v, sub(p, n + 2), {c.io_channels, widths[0], 7}, 0);
}

void fold_oobleck(OobleckWeights& w) {
    w.conv_in.fold();
    for (auto& b : w.blocks) {
        for (auto& u : b.units) {
            u.act1.fold();
            u.conv1.fold();
            u.act2.fold();
            u.conv2.fold();
        }
        b.act.fold();
        b.conv.fold();
    }
    w.act_out.fold();
    w.conv_out.fold();
}

at::Tensor activation(const at::Tensor& x, const SnakeWeights& s) {
    if (!s.a.defined()) return at::elu(x);
    // Same operation order as upstream's snake_beta: x + (1 / (b + 1e-9)) * sin(x * a)^2.
    return x + s.inv_b * at::sin(x * s.a).pow(2);
}

at::Tensor residual_unit(const at::Tensor& x, const ResidualUnitWeights& u) {
    const int64_t d = u.dilation;
    at::Tensor h = at::conv1d(activation(x, u.act1), u.conv1.weight, u.conv1.bias, 1, 3 * d, d);
    h = at::conv1d(activation(h, u.act2), u.conv2.weight, u.conv2.bias);
    return x + h;
}

// Padding ceil(s/2) on both sides: exactly floor(L/s) (conv) or L*s (transposed) for even s.
int64_t block_padding(int64_t stride) { return (stride + 1) / 2; }

void check_float(const at::Tensor& t, const char* what) {
    CANTER_CHECK(t.defined(), InvalidArgument, "audio VAE: " << what << " is undefined");
    CANTER_CHECK(at::isFloatingType(t.scalar_type()), InvalidArgument,
                 "audio VAE: " << what << " must be a floating-point tensor, got "
                               << t.scalar_type());
}

}  // namespace

// --- weights ------------------------------------------------------------------------------------

void WnConvWeights::visit(models::WeightVisitor& v, const std::string& prefix,
                          const std::vector<int64_t>& shape, int64_t bias_size) {
    v.visit(prefix + "weight_g", weight_g, {shape[0], 1, 1}, at::kFloat);
    v.visit(prefix + "weight_v", weight_v, shape, at::kFloat);
    if (bias_size > 0) v.visit(prefix + "bias", bias, {bias_size}, at::kFloat);
}

void WnConvWeights::fold() {
    if (!weight_v.defined()) return;
    // torch.nn.utils.weight_norm(dim=0) computes exactly this: v * (g / ||v||), the norm over
    // every dim but 0 with no epsilon (_weight_norm is the op behind it).
    weight = at::_weight_norm(weight_v, weight_g, 0).contiguous();
    weight_g = at::Tensor();
    weight_v = at::Tensor();
}

void SnakeWeights::visit(models::WeightVisitor& v, const std::string& prefix, int64_t channels) {
    v.visit(prefix + "alpha", alpha, {channels}, at::kFloat);
    v.visit(prefix + "beta", beta, {channels}, at::kFloat);
}

void SnakeWeights::fold() {
    if (!alpha.defined()) return;
    // exp() of the log-scale parameters and the reciprocal are input-independent; upstream
    // recomputes them per call with the same fp32 ops, so precomputing changes no bits.
    a = at::exp(alpha).view({1, -1, 1});
    inv_b = at::reciprocal(at::exp(beta) + 1e-9).view({1, -1, 1});
}

void AudioVaeWeights::visit(models::WeightVisitor& v, const AudioVaeConfig& config,
                            bool with_encoder, bool with_decoder) {
    const std::string p = kCheckpointPrefix;
    if (with_encoder) visit_encoder(v, encoder, config.encoder, p + "encoder.");
    if (with_decoder) visit_decoder(v, decoder, config.decoder, p + "decoder.");
}

void AudioVaeWeights::fold() {
    fold_oobleck(encoder);
    fold_oobleck(decoder);
}

AudioVaeEncoding vae_bottleneck(const at::Tensor& pre, const at::Tensor& eps) {
    check_float(pre, "pre-bottleneck latents");
    check_float(eps, "bottleneck noise eps");
    CANTER_CHECK(pre.dim() == 3 && pre.size(1) % 2 == 0, InvalidArgument,
                 "audio VAE: pre-bottleneck latents must be [B, 2C, T], got "
                     << shape_str(pre.sizes().vec()));
    AudioVaeEncoding e;
    e.pre_bottleneck = pre;
    const auto halves = pre.chunk(2, 1);
    e.mean = halves[0];
    CANTER_CHECK(eps.sizes() == e.mean.sizes(), InvalidArgument,
                 "audio VAE: bottleneck noise eps has shape " << shape_str(eps.sizes().vec())
                                                              << ", expected the mean's "
                                                              << shape_str(e.mean.sizes().vec()));
    e.stdev = at::softplus(halves[1]) + 1e-4;
    e.latent = eps.to(pre.device(), pre.scalar_type()) * e.stdev + e.mean;
    return e;
}

// --- model --------------------------------------------------------------------------------------

AudioVae AudioVae::load(const std::string& path, const AudioVaeConfig& config,
                        const AudioVaeOptions& options) {
    config.validate();
    CANTER_CHECK(options.load_encoder || options.load_decoder, InvalidArgument,
                 "audio VAE: nothing to load (load_encoder and load_decoder are both off)");
    tensor::InferenceGuard guard;
    AudioVae model;
    model.config_ = config;
    model.options_ = options;
    io::Checkpoint ckpt = io::Checkpoint::open(path);

    // Upstream keeps only `pretransform.model.*`; the rest of the SAO file (DiT, conditioner)
    // is none of this component's business. A skipped half is ignored the same way.
    const std::string prefix = kCheckpointPrefix;
    std::vector<std::string> ignored;
    bool any = false;
    for (const auto& name : ckpt.names()) {
        if (name.compare(0, prefix.size(), prefix) != 0) ignored.push_back(name);
        else any = true;
    }
    CANTER_CHECK(any, InvalidArgument,
                 ckpt.source() << ": no tensor under '" << prefix
                               << "': not a Stable Audio Open checkpoint with its autoencoder");
    if (!options.load_encoder) ignored.push_back(prefix + "encoder.");
    if (!options.load_decoder) ignored.push_back(prefix + "decoder.");

    models::CheckpointBinder binder(ckpt, options.device);
    model.weights_.visit(binder, config, options.load_encoder, options.load_decoder);
    binder.finish(ignored);
    model.weights_.fold();
    return model;
}

AudioVae AudioVae::load(const std::string& dir, const AudioVaeOptions& options) {
    return load(dir, AudioVaeConfig::from_model_dir(dir), options);
}

at::Tensor AudioVae::encode_pre_bottleneck(const at::Tensor& waveform) const {
    CANTER_CHECK(options_.load_encoder, InvalidArgument,
                 "audio VAE: encode called on a model loaded without its encoder");
    check_float(waveform, "waveform");
    const OobleckConfig& c = config_.encoder;
    CANTER_CHECK(waveform.dim() == 2 || waveform.dim() == 3, InvalidArgument,
                 "audio VAE: waveform must be [channels, samples] or [batch, channels, samples], "
                 "got " << shape_str(waveform.sizes().vec()));
    CANTER_CHECK(waveform.size(-2) == c.io_channels, InvalidArgument,
                 "audio VAE: waveform " << shape_str(waveform.sizes().vec()) << " has "
                                        << waveform.size(-2) << " channels, the encoder takes "
                                        << c.io_channels);
    const int64_t samples = waveform.size(-1);
    CANTER_CHECK(samples > 0 && waveform.numel() > 0, InvalidArgument,
                 "audio VAE: waveform " << shape_str(waveform.sizes().vec()) << " is empty");
    CANTER_CHECK(config_.latent_length(samples) > 0, InvalidArgument,
                 "audio VAE: waveform of " << samples << " samples is too short to encode (at "
                                           << "least " << c.stride_product()
                                           << " samples give one latent)");
    tensor::InferenceGuard guard;
    const OobleckWeights& w = weights_.encoder;
    // Upstream's first conv runs un-batched and the first SnakeBeta broadcast adds the batch
    // dimension; adding it up front gives the same values.
    at::Tensor x = waveform.to(options_.device, at::kFloat);
    if (x.dim() == 2) x = x.unsqueeze(0);
    x = at::conv1d(x, w.conv_in.weight, w.conv_in.bias, 1, 3);
    for (const auto& b : w.blocks) {
        for (const auto& u : b.units) x = residual_unit(x, u);
        x = at::conv1d(activation(x, b.act), b.conv.weight, b.conv.bias, b.stride,
                       block_padding(b.stride));
    }
    return at::conv1d(activation(x, w.act_out), w.conv_out.weight, w.conv_out.bias, 1, 1);
}

AudioVaeEncoding AudioVae::encode(const at::Tensor& waveform, const at::Tensor& eps) const {
    at::Tensor pre = encode_pre_bottleneck(waveform);
    tensor::InferenceGuard guard;
    return vae_bottleneck(pre, eps);
}

AudioVaeEncoding AudioVae::encode_at_rate(const at::Tensor& waveform, int sample_rate, uint64_t seed) const {
    CANTER_CHECK(sample_rate == kModelSampleRate, InvalidArgument,
                 "audio VAE: waveform sample rate is " << sample_rate << " Hz, the model's audio time base is "
                                                       << kModelSampleRate
                                                       << " Hz (25 fps x 2048 samples per latent); resample the "
                                                          "reference audio to "
                                                       << kModelSampleRate << " Hz first");
    return encode(waveform, seed);
}

AudioVaeEncoding AudioVae::encode(const at::Tensor& waveform, uint64_t seed) const {
    at::Tensor pre = encode_pre_bottleneck(waveform);
    tensor::InferenceGuard guard;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::Tensor eps = at::empty({pre.size(0), pre.size(1) / 2, pre.size(2)}, at::kFloat);
    eps.normal_(0.0, 1.0, gen);
    return vae_bottleneck(pre, eps);
}

at::Tensor AudioVae::decode(const at::Tensor& latent) const {
    CANTER_CHECK(options_.load_decoder, InvalidArgument,
                 "audio VAE: decode called on a model loaded without its decoder");
    check_float(latent, "latent");
    const OobleckConfig& c = config_.decoder;
    CANTER_CHECK(latent.dim() == 2 || latent.dim() == 3, InvalidArgument,
                 "audio VAE: latent must be [" << c.latent_dim << ", T] or [B, " << c.latent_dim
                                               << ", T], got "
                                               << shape_str(latent.sizes().vec()));
    CANTER_CHECK(latent.size(-2) == c.latent_dim, InvalidArgument,
                 "audio VAE: latent " << shape_str(latent.sizes().vec()) << " has "
                                      << latent.size(-2) << " channels in dim " << latent.dim() - 2
                                      << ", the decoder takes " << c.latent_dim
                                      << " (MagiHuman's [1, T, " << c.latent_dim
                                      << "] audio latent is passed as squeeze(0).T)");
    CANTER_CHECK(latent.size(-1) > 0, InvalidArgument,
                 "audio VAE: latent " << shape_str(latent.sizes().vec()) << " has no frames");
    tensor::InferenceGuard guard;
    const OobleckWeights& w = weights_.decoder;
    at::Tensor x = latent.to(options_.device, at::kFloat);
    if (x.dim() == 2) x = x.unsqueeze(0);  // upstream: un-batched conv, then Snake broadcasts
    x = at::conv1d(x, w.conv_in.weight, w.conv_in.bias, 1, 3);
    for (const auto& b : w.blocks) {
        x = at::conv_transpose1d(activation(x, b.act), b.conv.weight, b.conv.bias, b.stride,
                                 block_padding(b.stride));
        for (const auto& u : b.units) x = residual_unit(x, u);
    }
    x = at::conv1d(activation(x, w.act_out), w.conv_out.weight, {}, 1, 3);
    if (c.final_tanh) x = at::tanh(x);
    if (config_.soft_clip) x = at::tanh(x);
    return x;
}

}  // namespace canter::audio_vae
