// The reference attention kernel (CANTER_KERNELS=reference, and wherever no fused kernel
// applies: fp32 on CUDA): query blocks x key blocks with an online softmax in fp32, plain ATen
// GEMMs. Local ranges: one partial result per key range, merged by log-sum-exp.
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "tensor/attention.h"
#include "tensor/attention_ranges.h"

namespace canter::tensor {

at::Tensor attention_blocked(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                             const std::vector<AttnRange>& ranges_in, double scale,
                             const AttentionOptions& options) {
    check_attention_inputs(q_in, k_in, v_in);
    const int64_t L = q_in.size(0), Hq = q_in.size(1), D = q_in.size(2), Hkv = k_in.size(1);
    const int64_t G = Hq / Hkv;
    const auto ranges = effective_ranges(L, ranges_in);
    // Head-major layouts so every block below is a contiguous matrix.
    auto in = [&](const at::Tensor& t) { return attention_input(t, at::kFloat, options.bf16); };
    at::Tensor q =
        in(q_in).reshape({L, Hkv, G, D}).permute({1, 2, 0, 3}).contiguous();  // [Hkv,G,L,D]
    at::Tensor k = in(k_in).permute({1, 0, 2}).contiguous();                  // [Hkv,L,D]
    at::Tensor v = in(v_in).permute({1, 0, 2}).contiguous();                  // [Hkv,L,D]
    at::Tensor out = at::zeros({Hkv, G, L, D}, q.options());

    // Softmax of qb against keys [k0, k1) of kv head h, streamed in key blocks.
    // Returns the normalised output [R, D] and the log-sum-exp of the scores [R, 1].
    auto partial = [&](const at::Tensor& qb, int64_t h, int64_t k0, int64_t k1) {
        if (k1 - k0 <= options.k_block) {  // one block: plain softmax, normalised before P.V
            at::Tensor s = at::mm(qb, k[h].narrow(0, k0, k1 - k0).t()).mul_(scale);
            at::Tensor lse = at::logsumexp(s, 1, /*keepdim=*/true);
            at::Tensor o = at::mm(at::softmax(s, 1), v[h].narrow(0, k0, k1 - k0));
            return std::make_pair(o, lse);
        }
        const int64_t R = qb.size(0);
        at::Tensor m = at::full({R, 1}, -std::numeric_limits<float>::infinity(), qb.options());
        at::Tensor l = at::zeros({R, 1}, qb.options());
        at::Tensor acc = at::zeros({R, D}, qb.options());
        for (int64_t b = k0; b < k1; b += options.k_block) {
            const int64_t nk = std::min(options.k_block, k1 - b);
            at::Tensor s = at::mm(qb, k[h].narrow(0, b, nk).t()).mul_(scale);
            at::Tensor m_new = at::maximum(m, std::get<0>(s.max(1, true)));
            s.sub_(m_new).exp_();
            at::Tensor corr = (m - m_new).exp_();
            l.mul_(corr).add_(s.sum(1, true));
            acc.mul_(corr).addmm_(s, v[h].narrow(0, b, nk));
            m = m_new;
        }
        return std::make_pair(acc.div_(l), m + l.log());
    };

    const auto segments = attention_segments(L, ranges);
    for (int64_t h = 0; h < Hkv; ++h) {
        for (const auto& seg : segments) {
            if (seg.ranges.empty()) continue;  // a query that sees no key outputs zeros
            for (int64_t q0 = seg.q_begin; q0 < seg.q_end; q0 += options.q_block) {
                const int64_t nq = std::min(options.q_block, seg.q_end - q0);
                // The G query heads sharing kv head h are stacked: one GEMM serves them all.
                at::Tensor qb = q[h].narrow(1, q0, nq).reshape({G * nq, D});
                at::Tensor o;
                if (seg.ranges.size() == 1) {
                    const AttnRange& r = ranges[seg.ranges[0]];
                    o = partial(qb, h, r.k_begin, r.k_end).first;
                } else {
                    // Several key ranges: one partial result per range, merged by their
                    // log-sum-exp (upstream's range-attention fallback). Upstream's partials
                    // come out of flash attention in bf16; round them the same way if asked.
                    std::vector<at::Tensor> outs, lses;
                    for (size_t ri : seg.ranges) {
                        auto [po, plse] = partial(qb, h, ranges[ri].k_begin, ranges[ri].k_end);
                        outs.push_back(options.bf16 ? po.to(at::kBFloat16).to(at::kFloat) : po);
                        lses.push_back(plse);
                    }
                    at::Tensor lse = at::logsumexp(at::cat(lses, 1), 1, true);
                    o = at::zeros_like(outs[0]);
                    for (size_t r = 0; r < outs.size(); ++r)
                        o.add_(outs[r] * (lses[r] - lse).exp());
                }
                out[h].narrow(1, q0, nq).copy_(o.view({G, nq, D}));
            }
        }
    }
    return attention_output(out, options.bf16);
}

}  // namespace canter::tensor
