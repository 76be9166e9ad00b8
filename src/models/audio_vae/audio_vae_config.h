// Configuration of the Stable Audio Open 1.0 autoencoder ("Oobleck" encoder/decoder with a VAE
// bottleneck), read from `<audio_model_path>/model_config.json` under
// `model.pretransform.config`, as MagiHuman's SAAudioFeatureExtractor does.
//
// Sample-rate facts (spec encoders.md §3.4): the config says 44100 Hz and 2048 samples per latent
// (21.53 latents/s), but MagiHuman needs one latent per 25 fps video frame, so it treats the VAE
// waveform as 51.2 kHz (25 x 2048): reference audio is decoded to 51200 Hz before encoding, and
// the decoder's 2048*N samples for N latents are N/25 s of audio that the pipeline then
// resamples to 44.1 kHz (scipy.signal.resample, FFT method, new_len = int(len*441/512) =
// 1764*N). The decoder itself is unaware of any of this; the resampler lives elsewhere.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::audio_vae {

// One Oobleck stack. The `c_mults` here are the JSON list; upstream prepends a 1 internally,
// see `widths()`.
struct OobleckConfig {
    int io_channels = 2;  // encoder `in_channels` / decoder `out_channels`
    int channels = 128;
    std::vector<int> c_mults = {1, 2, 4, 8};  // upstream constructor defaults
    std::vector<int> strides = {2, 4, 8, 8};
    int latent_dim = 32;
    bool use_snake = false;  // SnakeBeta (log-scale alpha/beta) instead of ELU
    bool final_tanh = true;  // decoder only

    // channels * [1, c_mults...]: widths at the ends of the down/up blocks, smallest first.
    std::vector<int64_t> widths() const;
    int64_t stride_product() const;
};

struct AudioVaeConfig {
    OobleckConfig encoder;  // latent_dim = 2 * decoder.latent_dim (mean | scale)
    OobleckConfig decoder;
    int latent_dim = 64;            // autoencoder latent width (bottleneck output)
    int downsampling_ratio = 2048;  // waveform samples per latent
    int io_channels = 2;
    int sample_rate = 44100;  // nominal; MagiHuman uses 51200, see the header comment
    bool soft_clip = false;   // decoder output through tanh

    // Parses the whole model_config.json (`{"model": {"pretransform": {"config": ...}},
    // "sample_rate": ...}`) or, if there is no "model" key, a bare pretransform config.
    // Unknown keys inside encoder/decoder `config` throw (upstream's constructors reject them);
    // features MagiHuman's module lacks (antialiasing, nearest upsampling) throw Unsupported.
    // Calls validate().
    static AudioVaeConfig from_json(const nlohmann::json& j);
    static AudioVaeConfig from_model_dir(const std::string& dir);  // <dir>/model_config.json
    void validate() const;

    // Latents produced from `samples` waveform samples (follows each strided conv's length
    // formula); 0 when the waveform is too short for the encoder to run at all.
    int64_t latent_length(int64_t samples) const;
    // Waveform samples produced by the decoder from `latents` latents (2048 * latents here).
    int64_t waveform_length(int64_t latents) const;

    std::string summary() const;
};

}  // namespace canter::audio_vae
