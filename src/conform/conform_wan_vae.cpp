// conform wan-vae: the Wan2.2 VAE (golden/vae/wan22; model folder = config.json +
// weights.safetensors, or a real folder with Wan2.2_VAE.safetensors). Encodes
// `encode.input_video` and decodes `decode.input_latent` (both optional, at least one needed),
// and writes the latent normalisation constants.
#include <ATen/ATen.h>

#include "conform/conform_internal.h"
#include "models/wan_vae/wan_vae.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_wan_vae(const ConformRequest& request, const CaseFile& c) {
    const bool want_encode = c.has("encode.input_video");
    const bool want_decode = c.has("decode.input_latent");
    CANTER_CHECK(want_encode || want_decode, NotFound,
                 c.path() << ": wan-vae case has neither 'encode.input_video' nor "
                          << "'decode.input_latent'");
    wan_vae::WanVaeOptions options;
    options.device = device_of(request);
    // bf16 = MagiHuman's bf16 wrapper as far as values go: weights, inputs and the latent
    // normalisation in bf16, network arithmetic in fp32 (no bf16 golden exists for the VAEs).
    options.bf16_rounding = request.precision == "bf16";
    const auto model = wan_vae::WanVae::load_dir(request.model, options);

    TensorMap out;
    auto guarded = [&](const char* name, auto&& fn) {
        try {
            fn();
        } catch (const Error& e) {
            throw Error(e.code(), c.path() + ": " + name + ": " + e.what());
        }
    };
    if (want_encode) {
        guarded("encode.input_video", [&] {
            const at::Tensor latent = model.encode(c.input("encode.input_video")).cpu();
            out["encode.output_latent"] = latent;
            // Wan2_2_VAE.decode of the encode output (clamped, like decode.output_video).
            out["roundtrip.decode_of_encode_output"] = model.decode(latent).cpu();
        });
    }
    if (want_decode) {
        guarded("decode.input_latent", [&] {
            const at::Tensor video = model.decode_unclamped(c.input("decode.input_latent")).cpu();
            out["decode.output_video_unclamped"] = video;
            out["decode.output_video"] = video.clamp(-1.0, 1.0);
        });
    }
    out["scale.mean"] = model.mean().cpu();
    out["scale.inv_std"] = model.inv_std().cpu();
    return out;
}

}  // namespace canter::conform
