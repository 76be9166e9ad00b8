#include "models/wan_vae/wan_vae_blocks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "models/wan_vae/wan_vae_ops.h"
#include "tensor/attention.h"
#include "util/check.h"

namespace canter::wan_vae {

namespace {

constexpr int64_t kCacheT = 2;  // upstream CACHE_T: frames each cached conv keeps

at::Tensor last_frames(const at::Tensor& x, int64_t n) {
    const int64_t T = x.size(2);
    n = std::min(n, T);
    return x.narrow(2, T - n, n);
}

}  // namespace

// --- FeatureCache --------------------------------------------------------------------------------

CacheSlot& FeatureCache::next() {
    if (cursor_ == slots_.size()) slots_.emplace_back();
    return slots_[cursor_++];
}

// --- CausalConv3d --------------------------------------------------------------------------------

void CausalConv3d::visit(models::WeightVisitor& v, const std::string& prefix, int64_t in,
                         int64_t out, std::array<int64_t, 3> k, std::array<int64_t, 3> padding,
                         int64_t stride) {
    pt = padding[0];
    ph = padding[1];
    pw = padding[2];
    stride_t = stride;
    v.visit(prefix + ".weight", weight, {out, in, k[0], k[1], k[2]}, at::kFloat);
    v.visit(prefix + ".bias", bias, {out}, at::kFloat);
}

at::Tensor CausalConv3d::forward(const at::Tensor& x, const at::Tensor& cache) const {
    int64_t front = 2 * pt;
    std::vector<at::Tensor> parts;
    if (cache.defined() && front > 0) front -= cache.size(2);
    if (front > 0) {
        auto shape = x.sizes().vec();
        shape[2] = front;
        parts.push_back(at::zeros(shape, x.options()));
    }
    if (cache.defined() && pt > 0) parts.push_back(cache.to(x.options()));
    at::Tensor in = x;
    if (!parts.empty()) {
        parts.push_back(x);
        in = at::cat(parts, 2);
    }
    // H/W padding is symmetric, so the conv's own padding does it without another copy.
    return at::conv3d(in, weight, bias, {stride_t, 1, 1}, {0, ph, pw});
}

at::Tensor CausalConv3d::forward_cached(const at::Tensor& x, FeatureCache* cache) const {
    if (cache == nullptr) return forward(x);
    CacheSlot& slot = cache->next();
    // The new cache is always the stream's last 2 frames, even when this chunk has only one.
    at::Tensor keep = last_frames(x, kCacheT);
    if (keep.size(2) < kCacheT && slot.frames.defined())
        keep = at::cat({last_frames(slot.frames, 1), keep}, 2);
    else
        keep = keep.clone();  // do not pin the whole activation
    at::Tensor y = forward(x, slot.frames);
    slot.frames = keep;
    return y;
}

// --- ResidualBlock -------------------------------------------------------------------------------

void ResidualBlock::visit(models::WeightVisitor& v, const std::string& p, int64_t in,
                          int64_t out) {
    v.visit(p + ".residual.0.gamma", gamma_in, {in, 1, 1, 1}, at::kFloat);
    conv_a.visit(v, p + ".residual.2", in, out, {3, 3, 3}, {1, 1, 1});
    v.visit(p + ".residual.3.gamma", gamma_out, {out, 1, 1, 1}, at::kFloat);
    conv_b.visit(v, p + ".residual.6", out, out, {3, 3, 3}, {1, 1, 1});
    has_shortcut = in != out;
    if (has_shortcut) shortcut.visit(v, p + ".shortcut", in, out, {1, 1, 1}, {0, 0, 0});
}

at::Tensor ResidualBlock::forward(const at::Tensor& x, FeatureCache* cache) const {
    const at::Tensor h = has_shortcut ? shortcut.forward(x) : x;
    at::Tensor y = norm_silu(x, gamma_in);
    y = conv_a.forward_cached(y, cache);
    y = norm_silu(y, gamma_out);
    y = conv_b.forward_cached(y, cache);
    return y.add_(h);
}

// --- AttentionBlock ------------------------------------------------------------------------------

void AttentionBlock::visit(models::WeightVisitor& v, const std::string& p, int64_t c) {
    v.visit(p + ".norm.gamma", gamma, {c, 1, 1}, at::kFloat);
    v.visit(p + ".to_qkv.weight", qkv_weight, {3 * c, c, 1, 1}, at::kFloat);
    v.visit(p + ".to_qkv.bias", qkv_bias, {3 * c}, at::kFloat);
    v.visit(p + ".proj.weight", proj_weight, {c, c, 1, 1}, at::kFloat);
    v.visit(p + ".proj.bias", proj_bias, {c}, at::kFloat);
}

at::Tensor AttentionBlock::forward(const at::Tensor& x) const {
    const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    const int64_t N = H * W;
    // The channel norm of a frame is the same whether or not T is folded into the batch.
    const at::Tensor n = rms_norm_channels(x, gamma);
    const at::Tensor w_qkv = qkv_weight.view({3 * C, C});
    const at::Tensor w_proj = proj_weight.view({C, C});
    const double scale = 1.0 / std::sqrt(static_cast<double>(C));
    at::Tensor out = at::empty({B, C, T, H, W}, x.options());
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t t = 0; t < T; ++t) {
            const at::Tensor tokens = n.select(0, b).select(1, t).reshape({C, N}).t();  // [N, C]
            const at::Tensor qkv = at::linear(tokens, w_qkv, qkv_bias);                 // [N, 3C]
            const at::Tensor q = qkv.narrow(1, 0, C).contiguous().view({N, 1, C});
            const at::Tensor k = qkv.narrow(1, C, C).contiguous().view({N, 1, C});
            const at::Tensor v = qkv.narrow(1, 2 * C, C).contiguous().view({N, 1, C});
            const at::Tensor o = tensor::attention(q, k, v, {}, scale).reshape({N, C});
            out.select(0, b).select(1, t).copy_(
                at::linear(o, w_proj, proj_bias).t().reshape({C, H, W}));
        }
    }
    return out.add_(x);
}

// --- Resample ------------------------------------------------------------------------------------

void Resample::visit(models::WeightVisitor& v, const std::string& p, int64_t c, ResampleMode m) {
    mode = m;
    v.visit(p + ".resample.1.weight", weight, {c, c, 3, 3}, at::kFloat);
    v.visit(p + ".resample.1.bias", bias, {c}, at::kFloat);
    if (m == ResampleMode::kUpsample3d)
        time_conv.visit(v, p + ".time_conv", c, 2 * c, {3, 1, 1}, {1, 0, 0});
    else if (m == ResampleMode::kDownsample3d)
        time_conv.visit(v, p + ".time_conv", c, c, {3, 1, 1}, {0, 0, 0}, /*stride=*/2);
}

at::Tensor Resample::spatial(const at::Tensor& x) const {
    // A 1x3x3 conv3d is the per-frame Conv2d without folding T into the batch.
    const at::Tensor w = weight.unsqueeze(2);
    const bool up = mode == ResampleMode::kUpsample2d || mode == ResampleMode::kUpsample3d;
    if (up) {
        const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
        // nearest-exact x2 is plain pixel repetition.
        const at::Tensor u = x.unsqueeze(4).unsqueeze(6).expand({B, C, T, H, 2, W, 2})
                                 .reshape({B, C, T, 2 * H, 2 * W});
        return at::conv3d(u, w, bias, {1, 1, 1}, {0, 1, 1});
    }
    // ZeroPad2d((0, 1, 0, 1)): one column on the right, one row at the bottom.
    return at::conv3d(at::constant_pad_nd(x, {0, 1, 0, 1}), w, bias, {1, 2, 2});
}

at::Tensor Resample::upsample_time(const at::Tensor& x, FeatureCache* cache) const {
    const int64_t T = x.size(2);
    if (cache == nullptr) {
        // Whole clip: frame 0 passes unchanged, the rest go through a causal time_conv.
        if (T == 1) return x;
        const at::Tensor y = interleave_frames(time_conv.forward(x.narrow(2, 1, T - 1)));
        return at::cat({x.narrow(2, 0, 1), y}, 2);
    }
    CacheSlot& slot = cache->next();
    if (!slot.frames.defined() && !slot.rep) {
        slot.rep = true;  // first call: no temporal doubling
        return x;
    }
    at::Tensor keep = last_frames(x, kCacheT);
    if (keep.size(2) < kCacheT)
        keep = at::cat({slot.rep ? at::zeros_like(keep) : last_frames(slot.frames, 1), keep}, 2);
    else
        keep = keep.clone();
    // After "Rep" upstream runs time_conv without a cache (2 zero frames of padding).
    const at::Tensor y = slot.rep ? time_conv.forward(x) : time_conv.forward(x, slot.frames);
    slot.frames = keep;
    slot.rep = false;
    return interleave_frames(y);
}

at::Tensor Resample::downsample_time(const at::Tensor& x, FeatureCache* cache) const {
    const int64_t T = x.size(2);
    if (cache == nullptr) {
        // Whole clip: [g0] then an unpadded stride-2 conv over g0..gN.
        if (T < 3) return x.narrow(2, 0, 1).contiguous();
        return at::cat({x.narrow(2, 0, 1), time_conv.forward(x)}, 2);
    }
    CacheSlot& slot = cache->next();
    if (!slot.frames.defined()) {
        slot.frames = x.clone();  // first chunk: stored, passed through with no time conv
        return x;
    }
    const at::Tensor keep = last_frames(x, 1).clone();
    const at::Tensor y = time_conv.forward(at::cat({last_frames(slot.frames, 1), x}, 2));
    slot.frames = keep;
    return y;
}

at::Tensor Resample::forward(const at::Tensor& x, FeatureCache* cache) const {
    switch (mode) {
        case ResampleMode::kUpsample2d:
        case ResampleMode::kDownsample2d:
            return spatial(x);
        case ResampleMode::kUpsample3d:
            return spatial(upsample_time(x, cache));
        case ResampleMode::kDownsample3d:
            return downsample_time(spatial(x), cache);
    }
    CANTER_THROW(Internal, "Wan VAE Resample: unknown mode");
}

}  // namespace canter::wan_vae
