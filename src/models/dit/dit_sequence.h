// The packed token sequence the DiT consumes (built by pipeline/packing from latents).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "tensor/attention.h"

namespace canter::dit {

// Token order is fixed: all video tokens, then audio, then text (each group contiguous),
// so modality-specific ("expert") weights apply to three row ranges.
struct DitSequence {
    at::Tensor video;   // [Nv, video_in_channels] fp32
    at::Tensor audio;   // [Na, audio_in_channels] fp32
    at::Tensor text;    // [Nt, text_in_channels] fp32
    at::Tensor coords;  // [L, 9] fp32: (t, h, w, size T, H, W, ref T, H, W) per token
    // Attention ranges of local-attention layers (global layers ignore them).
    std::vector<tensor::AttnRange> local_ranges;

    int64_t num_video() const { return video.size(0); }
    int64_t num_audio() const { return audio.size(0); }
    int64_t num_text() const { return text.size(0); }
    int64_t length() const { return num_video() + num_audio() + num_text(); }
};

}  // namespace canter::dit
