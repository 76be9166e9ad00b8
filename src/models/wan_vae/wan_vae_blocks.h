// Building blocks of the Wan2.2 VAE with upstream's key names (spec encoders.md §1.2) and the
// streaming feature cache (§1.4). Every block's forward takes a `FeatureCache*`: a cache walks
// the clip chunk by chunk exactly as upstream does; nullptr runs the block once over the whole
// clip (the equivalent whole-sequence form of §1.5, used as a test oracle and by callers that
// have the memory for it).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "models/common/weights.h"

namespace canter::wan_vae {

// Streaming state of one cached module: the last frames of its input (undefined = none yet).
// `rep` is upsample3d's "Rep" marker: the first call happened, no frames kept.
struct CacheSlot {
    at::Tensor frames;
    bool rep = false;
};

// Upstream's flat `feat_cache` list: one slot per cached conv / 3d Resample, handed out in
// execution order. begin_chunk() rewinds the cursor before each encoder/decoder call.
class FeatureCache {
public:
    void begin_chunk() { cursor_ = 0; }
    CacheSlot& next();
    size_t size() const { return slots_.size(); }

private:
    std::vector<CacheSlot> slots_;
    size_t cursor_ = 0;
};

// Conv3d with causal time padding: 2*pt zero frames in front (replaced by cached frames when
// streaming), ph / pw zeros on both sides in H / W.
struct CausalConv3d {
    at::Tensor weight;  // [out, in, kt, kh, kw]
    at::Tensor bias;    // [out]
    int64_t pt = 0, ph = 0, pw = 0;
    int64_t stride_t = 1;

    void visit(models::WeightVisitor& v, const std::string& prefix, int64_t in, int64_t out,
               std::array<int64_t, 3> kernel, std::array<int64_t, 3> padding, int64_t stride_t = 1);
    // One conv call; `cache` (undefined = none) are frames to put in front of x.
    at::Tensor forward(const at::Tensor& x, const at::Tensor& cache = {}) const;
    // The CACHE_T = 2 streaming rule of §1.4 (or one whole-clip call when cache is null).
    at::Tensor forward_cached(const at::Tensor& x, FeatureCache* cache) const;
};

// RMS_norm, SiLU, conv3 (residual.0/.2), RMS_norm, SiLU, conv3 (residual.3/.6) + shortcut.
struct ResidualBlock {
    at::Tensor gamma_in, gamma_out;  // [C, 1, 1, 1]
    CausalConv3d conv_a, conv_b;
    bool has_shortcut = false;  // 1x1x1 conv when in != out, identity otherwise
    CausalConv3d shortcut;

    void visit(models::WeightVisitor& v, const std::string& prefix, int64_t in, int64_t out);
    at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const;
};

// Single-head self-attention inside each frame (no cache: frames do not interact).
struct AttentionBlock {
    at::Tensor gamma;                // norm.gamma [C, 1, 1]
    at::Tensor qkv_weight, qkv_bias;  // to_qkv [3C, C, 1, 1], [3C]
    at::Tensor proj_weight, proj_bias;  // proj [C, C, 1, 1], [C]

    void visit(models::WeightVisitor& v, const std::string& prefix, int64_t channels);
    at::Tensor forward(const at::Tensor& x) const;
};

enum class ResampleMode { kUpsample2d, kUpsample3d, kDownsample2d, kDownsample3d };

// Spatial x2 (nearest + conv3x3, or pad right/bottom + stride-2 conv3x3) per frame, plus the
// temporal time_conv of the 3d modes (keys resample.1.*, time_conv.*).
struct Resample {
    ResampleMode mode = ResampleMode::kUpsample2d;
    at::Tensor weight, bias;  // resample.1: Conv2d [C, C, 3, 3]
    CausalConv3d time_conv;   // 3d modes only

    void visit(models::WeightVisitor& v, const std::string& prefix, int64_t channels,
               ResampleMode mode);
    at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const;

private:
    at::Tensor spatial(const at::Tensor& x) const;
    at::Tensor upsample_time(const at::Tensor& x, FeatureCache* cache) const;
    at::Tensor downsample_time(const at::Tensor& x, FeatureCache* cache) const;
};

}  // namespace canter::wan_vae
