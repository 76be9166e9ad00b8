#include "tensor/attention.h"

#include <ATen/ATen.h>

#include <limits>

#include "tensor/attention_ranges.h"

namespace canter::tensor {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::vector<AttnRange>& ranges, double scale,
                     const AttentionOptions& options) {
    if (resolve(options.kernel) == KernelChoice::kFused && fused_attention_applies(q, options.bf16))
        return attention_fused(q, k, v, ranges, scale, options);
    return attention_blocked(q, k, v, ranges, scale, options);
}

at::Tensor attention_reference(const at::Tensor& q_in, const at::Tensor& k_in,
                               const at::Tensor& v_in, const std::vector<AttnRange>& ranges_in,
                               double scale) {
    check_attention_inputs(q_in, k_in, v_in);
    const int64_t L = q_in.size(0), Hq = q_in.size(1), Hkv = k_in.size(1);
    const auto ranges = effective_ranges(L, ranges_in);
    at::Tensor mask = at::zeros({L, L}, at::kFloat);
    for (const auto& r : ranges)
        mask.narrow(0, r.q_begin, r.q_end - r.q_begin)
            .narrow(1, r.k_begin, r.k_end - r.k_begin)
            .add_(1);
    at::Tensor qf = q_in.to(at::kCPU, at::kFloat).permute({1, 0, 2});  // [Hq,L,D]
    at::Tensor kf = k_in.to(at::kCPU, at::kFloat)
                        .repeat_interleave(Hq / Hkv, 1)
                        .permute({1, 0, 2});  // [Hq,L,D]
    at::Tensor vf = v_in.to(at::kCPU, at::kFloat).repeat_interleave(Hq / Hkv, 1).permute({1, 0, 2});
    at::Tensor s = at::bmm(qf, kf.transpose(1, 2)) * scale;
    // Softmax over the keys a row sees, shifted by their maximum (keys it does not see could
    // be larger and underflow the rest). A key covered twice counts twice (multiplicity
    // weights), as upstream's LSE merge does.
    const at::Tensor unseen = mask == 0;
    const double inf = std::numeric_limits<double>::infinity();
    at::Tensor m = s.masked_fill(unseen, -inf).amax(-1, true);
    m.masked_fill_(at::isneginf(m), 0);  // a row in no range: all weights 0, output zeros
    at::Tensor w = at::exp((s - m).masked_fill_(unseen, -inf)) * mask;
    at::Tensor p = w / w.sum(-1, true).clamp_min(1e-30);
    return at::bmm(p, vf).permute({1, 0, 2}).contiguous();
}

}  // namespace canter::tensor
