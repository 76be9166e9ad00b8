// The sliding-window schedule of upstream `TurboVAED._sliding_window_decode`, as a pure
// function of the latent length, so tests can check it without running the decoder.
//
// The latent is padded at the end with copies of its last frame to F + k*S frames
// (F = first_chunk_size, S = step_size). The first window is [0, F+1) (one frame of right
// context), every later window [i-1, i+S+1) with one frame of context on each side (the last
// has no right context). Each window is a separate, stateless decoder call; the pixel frames
// produced by context frames (O = temporal_compression_ratio per latent frame) are dropped,
// never blended, and the 4*pad frames of the padding are cut from the end.
#pragma once

#include <cstdint>
#include <vector>

namespace canter::turbo_vaed {

struct TurboVaedConfig;

struct WindowCall {
    int64_t latent_begin = 0, latent_end = 0;  // [l, r) of the padded latent
    bool is_first_chunk = false;               // upsample3d drops its first output frame
    int64_t decoder_output_frames = 0;         // frames the decoder returns for this call
    int64_t keep_begin = 0, keep_end = 0;      // [a, b) of this call's output that is kept
    int64_t output_begin = 0, output_end = 0;  // [a, b) in the concatenation (before the cut)
};

struct WindowPlan {
    int64_t num_latent_frames = 0;   // N as given
    int64_t num_padding_frames = 0;  // copies of the last latent frame appended
    std::vector<WindowCall> calls;
    int64_t concat_frames = 0;  // frames after concatenating the kept pieces
    int64_t output_frames = 0;  // after cutting the padding: temporal_ratio*(N-1) + 1
};

// Pixel frames one decoder call returns for `latent_frames` input frames.
int64_t decoder_output_frames(int64_t latent_frames, bool is_first_chunk, int temporal_upsamples);

// Throws InvalidArgument when N < 1.
WindowPlan plan_windows(int64_t num_latent_frames, const TurboVaedConfig& config);

}  // namespace canter::turbo_vaed
