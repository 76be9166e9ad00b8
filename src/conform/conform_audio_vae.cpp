// conform audio-vae: Stable Audio Open VAE decode and encode (golden/vae/sa_audio).
// Upstream runs this component in fp32 in both numerics variants, so --precision bf16 (compared
// with upstream's "native" run) computes in fp32 too.
#include <ATen/ATen.h>

#include "conform/conform_internal.h"
#include "models/audio_vae/audio_vae.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_audio_vae(const ConformRequest& request, const CaseFile& c) {
    const bool want_decode = c.has("decode.input_latent_BTC");
    const bool want_encode = c.has("encode.input_waveform");
    CANTER_CHECK(want_decode || want_encode, NotFound,
                 c.path() << ": audio-vae case has neither 'decode.input_latent_BTC' nor "
                          << "'encode.input_waveform'");
    audio_vae::AudioVaeOptions options;
    options.device = device_of(request);
    options.load_encoder = want_encode;
    options.load_decoder = want_decode;
    const auto model = audio_vae::AudioVae::load(request.model, options);

    TensorMap out;
    if (want_decode) {
        // As MagiEvaluator.post_process: [1, T, C] -> squeeze(0).T -> un-batched [C, T].
        const at::Tensor btc = c.input("decode.input_latent_BTC");
        CANTER_CHECK(btc.dim() == 3 && btc.size(0) == 1, InvalidArgument,
                     c.path() << ": 'decode.input_latent_BTC' must be [1, T, C], got "
                              << shape_str(btc.sizes().vec()));
        out["decode.output_waveform"] = model.decode(btc.squeeze(0).t()).cpu();
    }
    if (want_encode) {
        out["encode.pre_bottleneck_latents"] =
            model.encode_pre_bottleneck(c.input("encode.input_waveform")).cpu();
    }
    return out;
}

}  // namespace canter::conform
