// The Stable Audio Open 1.0 autoencoder as MagiHuman uses it (upstream
// inference/model/sa_audio/sa_audio_module.py, a trimmed copy of stable-audio-tools'
// OobleckEncoder / OobleckDecoder / VAEBottleneck / SnakeBeta). Everything runs in fp32, as
// upstream does in both of its numerics variants.
//
// Waveform time base: 2048 samples per latent. The config calls that 44.1 kHz, but MagiHuman
// treats the waveform as 51.2 kHz (25 latents/s, one per video frame): encode inputs are
// 51200 Hz audio, and decode outputs are resampled 512 -> 441 (FFT method) by the pipeline to
// get 44.1 kHz. See audio_vae_config.h and spec encoders.md §3.4; no resampling happens here.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/audio_vae/audio_vae_config.h"
#include "models/common/weights.h"

namespace canter::audio_vae {

// Every key below lives under this prefix in the full SAO checkpoint (which also holds the DiT
// and the T5 conditioner: those keys are skipped, as upstream filters on this prefix).
inline constexpr const char* kCheckpointPrefix = "pretransform.model.";

// Weight-normalised conv (PyTorch's old `weight_norm`, dim 0). The checkpoint's weight_g /
// weight_v are folded into `weight` once at load time and then released.
struct WnConvWeights {
    at::Tensor weight_g;  // [dim0, 1, 1]
    at::Tensor weight_v;  // Conv1d [out, in, k]; ConvTranspose1d [in, out, k]
    at::Tensor weight;    // g * v / ||v||, norm over all dims but 0 (per output channel for
                          // Conv1d, per *input* channel for ConvTranspose1d)
    at::Tensor bias;      // [out]; undefined for the decoder's last conv
    // `shape` is weight_v's; `bias_size` 0 means no bias.
    void visit(models::WeightVisitor& v, const std::string& prefix,
               const std::vector<int64_t>& shape, int64_t bias_size);
    void fold();
};

// SnakeBeta with log-scale parameters: y = x + sin^2(exp(alpha) x) / (exp(beta) + 1e-9).
// Absent (undefined) when the config uses ELU instead.
struct SnakeWeights {
    at::Tensor alpha, beta;  // [C], log scale, as stored
    at::Tensor a, inv_b;     // [1, C, 1]: exp(alpha) and 1 / (exp(beta) + 1e-9), set by fold()
    void visit(models::WeightVisitor& v, const std::string& prefix, int64_t channels);
    void fold();
};

// Snake, k7 dilated conv, Snake, k1 conv, plus the input (`layers.{0..3}`).
struct ResidualUnitWeights {
    SnakeWeights act1, act2;
    WnConvWeights conv1, conv2;
    int64_t dilation = 1;
};

// Encoder: 3 residual units (d = 1, 3, 9), Snake, stride-s conv (k = 2s, pad ceil(s/2)).
// Decoder: Snake, stride-s transposed conv, 3 residual units.
struct ResampleBlockWeights {
    ResidualUnitWeights units[3];
    SnakeWeights act;
    WnConvWeights conv;  // strided Conv1d (encoder) or ConvTranspose1d (decoder)
    int64_t stride = 1;
};

// `layers.0` conv k7, `layers.1..n` blocks, `layers.n+1` activation, `layers.n+2` conv
// (k3 for the encoder, k7 without bias for the decoder).
struct OobleckWeights {
    WnConvWeights conv_in;
    std::vector<ResampleBlockWeights> blocks;  // execution order
    SnakeWeights act_out;
    WnConvWeights conv_out;
};

struct AudioVaeWeights {
    OobleckWeights encoder, decoder;
    // Lists every checkpoint tensor under its full key (`pretransform.model.encoder...`).
    void visit(models::WeightVisitor& v, const AudioVaeConfig& config, bool with_encoder,
               bool with_decoder);
    void fold();  // weight norm and SnakeBeta exponentials; releases weight_g / weight_v
};

struct AudioVaeOptions {
    c10::Device device = c10::Device(c10::kCPU);
    bool load_encoder = true;  // T2V generation only needs the decoder
    bool load_decoder = true;
};

struct AudioVaeEncoding {
    at::Tensor pre_bottleneck;  // [B, 2*latent_dim, T]: mean | scale
    at::Tensor mean;            // [B, latent_dim, T]
    at::Tensor stdev;           // softplus(scale) + 1e-4
    at::Tensor latent;          // mean + std * eps (upstream: randn_like(mean) * std + mean)
};

// The VAE bottleneck on pre-bottleneck latents [B, 2C, T] with noise `eps` [B, C, T].
AudioVaeEncoding vae_bottleneck(const at::Tensor& pre_bottleneck, const at::Tensor& eps);

// MagiHuman's audio time base (not the checkpoint's nominal 44.1 kHz, see audio_vae_config.h).
constexpr int kModelSampleRate = 51200;

class AudioVae {
public:
    // Strict load of the `pretransform.model.*` tensors of the selected halves: a missing,
    // mis-shaped or unexpected key under the prefix is an error; keys outside it are ignored.
    // `path`: folder with model.safetensors, or the safetensors file itself.
    static AudioVae load(const std::string& path, const AudioVaeConfig& config,
                         const AudioVaeOptions& options = {});
    // Reads `<dir>/model_config.json` too.
    static AudioVae load(const std::string& dir, const AudioVaeOptions& options = {});

    // Waveform [C, L] (un-batched, as MagiHuman passes reference audio) or [B, C, L], with
    // C = io_channels -> pre-bottleneck latents [B, 2*latent_dim, latent_length(L)] (B = 1 for
    // un-batched input, as upstream's broadcasting gives).
    at::Tensor encode_pre_bottleneck(const at::Tensor& waveform) const;
    // Full encode; `eps` (shape of the mean) supplies the noise, or a seeded CPU generator does.
    AudioVaeEncoding encode(const at::Tensor& waveform, const at::Tensor& eps) const;
    AudioVaeEncoding encode(const at::Tensor& waveform, uint64_t seed) const;
    // Reference audio as MagiHuman encodes it (pipeline.md §2.8): the waveform must already be
    // on the model's 51.2 kHz time base (25 fps x 2048 samples per latent, one latent per video
    // frame); any other rate throws naming both rates, since encoding it would silently shift
    // audio against video.
    AudioVaeEncoding encode_at_rate(const at::Tensor& waveform, int sample_rate, uint64_t seed) const;

    // Latent [latent_dim, T] (un-batched: MagiHuman's `latent.squeeze(0).T` of its [1, T, C]
    // audio latent) or [B, latent_dim, T] -> waveform [B, io_channels, waveform_length(T)]
    // (B = 1 for un-batched input). Not clamped.
    at::Tensor decode(const at::Tensor& latent) const;

    const AudioVaeConfig& config() const { return config_; }
    const AudioVaeWeights& weights() const { return weights_; }

private:
    AudioVaeConfig config_;
    AudioVaeOptions options_;
    AudioVaeWeights weights_;
};

}  // namespace canter::audio_vae
