// Parameter-free pieces of the Wan2.2 VAE (spec encoders.md §1.2): the 2x2 patchify used around
// the encoder/decoder, the channel-regrouping stage shortcuts AvgDown3D / DupUp3D, and the
// RMS-style norm. All work on video tensors [B, C, T, H, W].
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace canter::wan_vae {

// Pixel (c, t, 2h+q, 2w+r) -> channel 4c + 2r + q: the W offset is the more significant one
// (einops "(c r q)"), unlike pixel_shuffle. [B, C, T, H, W] -> [B, 4C, T, H/2, W/2].
at::Tensor patchify(const at::Tensor& x);
at::Tensor unpatchify(const at::Tensor& x);  // exact inverse, [B, 4C, T, h, w] -> [B, C, T, 2h, 2w]

// Zero-pad T at the front to a multiple of ft, gather each (ft, fs, fs) block into channels
// (index c*f + it*fs^2 + ih*fs + iw, f = ft*fs^2) and average runs of in*f/out channels.
at::Tensor avg_down3d(const at::Tensor& x, int64_t out_channels, int64_t ft, int64_t fs);
// Repeat each channel out*f/in times, spread the (ft, fs, fs) sub-positions over space-time;
// `first_chunk` drops the first ft-1 output frames.
at::Tensor dup_up3d(const at::Tensor& x, int64_t out_channels, int64_t ft, int64_t fs,
                    bool first_chunk);

// x / max(||x||_2 over channels, 1e-12) * sqrt(C) * gamma (upstream RMS_norm: F.normalize,
// no bias). `gamma` has C elements in any [C, 1, ...] shape.
at::Tensor rms_norm_channels(const at::Tensor& x, const at::Tensor& gamma);

// SiLU(rms_norm_channels(x, gamma)), the pre-conv pair of the residual blocks and heads.
at::Tensor norm_silu(const at::Tensor& x, const at::Tensor& gamma);

// The temporal doubling of upsample3d: time_conv output [B, 2C, T, H, W] -> [B, C, 2T, H, W],
// channels [0, C) becoming frame 2t and [C, 2C) frame 2t+1.
at::Tensor interleave_frames(const at::Tensor& y);

}  // namespace canter::wan_vae
