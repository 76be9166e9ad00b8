// Output post-processing after the decoders (pipeline.md §8.4, §8.5), pure ATen.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace canter::pipeline {

// scipy.signal.resample(wave, n_out, axis=-1) for real input: real FFT of the whole signal per
// row; keep bins 0 .. min(n, n_out)/2; when min(n, n_out) is even, the bin at min/2 is doubled
// when down-sampling and halved when up-sampling (SciPy's Nyquist rule); inverse real FFT of
// length n_out; times n_out / n. Computed in the input's dtype (float32 -> float32, as SciPy does
// for float32 input). wave: float [C, N] (or any [..., N]); returns [..., n_out].
// n_out == N returns an unmodified copy. Upstream audio: N = 2048*A -> n_out = 1764*A (§8.4).
at::Tensor resample_fft(const at::Tensor& wave, int64_t n_out);

// Decoded video [1, 3, F, H, W] in [-1, 1] -> uint8 [F, H, W, 3] exactly as upstream:
// clamp(x * 0.5 + 0.5, 0, 1) in float32, permute, * 255, truncate (NumPy astype) = floor.
// Result is contiguous on the input's device.
at::Tensor frames_to_uint8(const at::Tensor& video);

}  // namespace canter::pipeline
