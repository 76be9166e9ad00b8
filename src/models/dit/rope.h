// 3-axis rotary position embedding of the MagiHuman DiT (upstream adapter.rope).
#pragma once

#include <ATen/core/Tensor.h>

namespace canter::dit {

struct RopeTable {
    at::Tensor sin;  // [L, 3 * head_dim/8]: axis-major (t bands, h bands, w bands)
    at::Tensor cos;
};

// bands[k] = 1 / 10000^(k / (head_dim/8)).
at::Tensor rope_bands(int head_dim);

// coords [L, 9] -> angles (coord - centre) * (ref - 1)/(size - 1) * band per axis, with the
// centre 0 for t and (size-1)/2 for h, w; the scale is 1 where size == 1.
RopeTable rope_table(const at::Tensor& coords, const at::Tensor& bands);

// Rotates the first 3*D/4 dims of each head (NeoX half-split); the last D/4 pass through.
// x [L, heads, D] fp32.
at::Tensor apply_rope(const at::Tensor& x, const RopeTable& table);

}  // namespace canter::dit
