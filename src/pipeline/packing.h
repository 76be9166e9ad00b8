// Latents <-> the DiT's packed token sequence (upstream inference/pipeline/data_proxy.py
// `MagiDataProxy.process_input` / `process_output`).
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <string>

#include "models/dit/dit_sequence.h"

namespace canter::pipeline {

// Upstream `DataProxyConfig`. The base model uses coords v2; the SR models v1.
struct DataProxyConfig {
    int t_patch_size = 1;
    int patch_size = 2;
    int frame_receptive_field = 11;  // local attention: frames i-rf..i+rf
    std::string coords_style = "v2";
    std::string spatial_rope_interpolation = "extra";
    int ref_audio_offset = 1000;
    int text_offset = 0;

    // Defaults overridden by the given fields; unsupported values throw naming the field.
    static DataProxyConfig from_json(const nlohmann::json& j);
    static DataProxyConfig sr_default();  // the SR stage's proxy: coords v1
};

struct PackGeometry {
    int64_t channels = 0;      // latent channels C
    int64_t frames = 0;        // latent T
    int64_t height = 0, width = 0;
    int64_t tokens_t = 0, tokens_h = 0, tokens_w = 0;  // T/pt, H/ph, W/pw
    int64_t audio_frames = 0;
    int64_t audio_channels = 0;
    int64_t text_tokens = 0;
};

struct PackedInput {
    dit::DitSequence seq;
    at::Tensor modality;  // [L] int64: 0 video, 1 audio, 2 text
    PackGeometry geometry;
    // [L, width] with each modality's tokens zero-padded to `width` (upstream `x` layout).
    at::Tensor padded_tokens(int64_t width) const;
    // Local-attention ranges as upstream stores them: q [T'+2, 2] and k [T'+2, 2] (int32).
    at::Tensor local_q_ranges, local_k_ranges;
};

// video [1, C, T, H, W], audio [1, A, Ca], text [1, N, Ct] of which the first `text_len`
// rows are real. Token order: video (row-major over t, h/ph, w/pw), audio, text.
// Video token channels are `c*pt*ph*pw + (it*ph + ih)*pw + iw` (UnfoldNd order).
PackedInput pack(const at::Tensor& video, const at::Tensor& audio, const at::Tensor& text,
                 int64_t text_len, const DataProxyConfig& config);

// Velocity rows back to latents. video_rows [Nv, pt*ph*pw*C] with channels ordered
// `((it*ph + ih)*pw + iw)*C + c` (note: not the packing order) -> [1, C, T, H, W];
// audio_rows [A, >= Ca] -> [1, A, Ca].
at::Tensor unpack_video(const at::Tensor& video_rows, const PackGeometry& g, const DataProxyConfig& config);
at::Tensor unpack_audio(const at::Tensor& audio_rows, const PackGeometry& g);

}  // namespace canter::pipeline
