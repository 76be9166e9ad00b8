#include "models/dit/rope.h"

#include <ATen/ATen.h>

namespace canter::dit {

at::Tensor rope_bands(int head_dim) {
    const int n = head_dim / 8;
    at::Tensor k = at::arange(n, at::kDouble);
    return at::pow(10000.0, -k / n).to(at::kFloat);
}

RopeTable rope_table(const at::Tensor& coords, const at::Tensor& bands) {
    at::Tensor c = coords.to(at::kDouble);
    at::Tensor pos = c.narrow(1, 0, 3), size = c.narrow(1, 3, 3), ref = c.narrow(1, 6, 3);
    at::Tensor centre = (size - 1) / 2;
    centre.select(1, 0).zero_();  // time is not centred
    at::Tensor denom = size - 1;
    at::Tensor scale = at::where(denom > 0, (ref - 1) / denom.clamp_min(1), at::ones_like(denom));
    at::Tensor p = ((pos - centre) * scale).to(at::kFloat);        // [L, 3]
    at::Tensor angles = (p.unsqueeze(2) * bands.to(at::kFloat).view({1, 1, -1})).flatten(1);  // [L, 3n]
    return RopeTable{at::sin(angles), at::cos(angles)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTable& table) {
    const int64_t half = table.sin.size(1);  // 3*D/8
    at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
    at::Tensor s = table.sin.unsqueeze(1), c = table.cos.unsqueeze(1);  // [L, 1, half]
    at::Tensor rest = x.narrow(-1, 2 * half, x.size(-1) - 2 * half);
    return at::cat({x1 * c - x2 * s, x2 * c + x1 * s, rest}, -1);
}

}  // namespace canter::dit
