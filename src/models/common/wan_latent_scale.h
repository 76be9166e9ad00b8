// The Wan2.2 latent normalisation constants, shared by the Wan2.2 VAE and TurboVAED (spec encoders.md §1.6), hard-coded upstream in
// `Wan2_2_VAE.__init__` as scale = [mean, inv_std = 1/std]. Encode: (mu - mean) * inv_std;
// decode: z / inv_std + mean (upstream divides by the reciprocal, so do we).
#pragma once

#include <ATen/core/Tensor.h>

namespace canter::models {

at::Tensor wan_latent_mean();     // [48] fp32
at::Tensor wan_latent_std();      // [48] fp32
// [48] fp32: 1/std in fp32 (Wan2.2's own fp32 wrapper, the golden reference), or with
// `bf16_quirk` MagiHuman's bf16(1/bf16(std)) after its `.to(bfloat16)` of the whole wrapper.
at::Tensor wan_latent_inv_std(bool bf16_quirk = false);

}  // namespace canter::models
