// 16-bit PCM WAV writer (no FFmpeg needed).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace canter::media {

// Encodes `audio` float [C, N] (any float dtype, any device; C in 1..16) as a 16-bit PCM WAV
// file image: sample = round_half_even(clamp(x, -1, 1) * 32767), interleaved, little-endian.
// Upstream (soundfile/libsndfile) does not clamp: out-of-range samples wrap or saturate there.
// Clamping is a deliberate, documented deviation (pipeline.md §11 item 10). NaN becomes 0.
std::string encode_wav(const at::Tensor& audio, int sample_rate);

// encode_wav() written atomically to `path` (temporary sibling + rename; see atomic_file.h).
// Throws canter::Error: kInvalidArgument for a bad tensor/rate, kIO naming `path`.
void write_wav(const std::string& path, const at::Tensor& audio, int sample_rate);

}  // namespace canter::media
