#include "tensor/attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "util/check.h"

namespace canter::tensor {

namespace {

struct Segment {
    int64_t q_begin, q_end;
    std::vector<std::pair<int64_t, int64_t>> keys;  // key ranges this query segment sees
};

// Splits the query axis at every range boundary so that each piece sees one fixed key set.
std::vector<Segment> make_segments(int64_t L, const std::vector<AttnRange>& ranges) {
    if (ranges.empty()) return {Segment{0, L, {{0, L}}}};
    std::vector<int64_t> cuts = {0, L};
    for (const auto& r : ranges) {
        CANTER_CHECK(0 <= r.q_begin && r.q_begin <= r.q_end && r.q_end <= L && 0 <= r.k_begin &&
                         r.k_begin <= r.k_end && r.k_end <= L,
                     InvalidArgument,
                     "attention range q[" << r.q_begin << "," << r.q_end << ") k[" << r.k_begin
                                          << "," << r.k_end << ") outside a sequence of " << L);
        cuts.push_back(r.q_begin);
        cuts.push_back(r.q_end);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::vector<Segment> out;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        Segment s{cuts[i], cuts[i + 1], {}};
        for (const auto& r : ranges)
            if (r.q_begin <= s.q_begin && s.q_end <= r.q_end && r.k_end > r.k_begin)
                s.keys.emplace_back(r.k_begin, r.k_end);
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace

at::Tensor attention(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                     const std::vector<AttnRange>& ranges, double scale,
                     const AttentionOptions& options) {
    CANTER_CHECK(q_in.dim() == 3 && k_in.dim() == 3 && v_in.dim() == 3, InvalidArgument,
                 "attention expects q, k, v of shape [L, heads, head_dim]");
    const int64_t L = q_in.size(0), Hq = q_in.size(1), D = q_in.size(2), Hkv = k_in.size(1);
    CANTER_CHECK(k_in.size(0) == L && v_in.size(0) == L && k_in.size(2) == D &&
                     v_in.size(1) == Hkv && Hkv > 0 && Hq % Hkv == 0,
                 InvalidArgument, "attention: incompatible q " << q_in.sizes() << ", k "
                                                                << k_in.sizes() << ", v " << v_in.sizes());
    const int64_t G = Hq / Hkv;
    // Head-major layouts so every block below is a contiguous matrix.
    at::Tensor q = q_in.to(at::kFloat).view({L, Hkv, G, D}).permute({1, 2, 0, 3}).contiguous();  // [Hkv,G,L,D]
    at::Tensor k = k_in.to(at::kFloat).permute({1, 0, 2}).contiguous();                          // [Hkv,L,D]
    at::Tensor v = v_in.to(at::kFloat).permute({1, 0, 2}).contiguous();                          // [Hkv,L,D]
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

    const auto segments = make_segments(L, ranges);
    for (int64_t h = 0; h < Hkv; ++h) {
        for (const auto& seg : segments) {
            if (seg.keys.empty()) continue;  // a query that sees no key outputs zeros
            for (int64_t q0 = seg.q_begin; q0 < seg.q_end; q0 += options.q_block) {
                const int64_t nq = std::min(options.q_block, seg.q_end - q0);
                // The G query heads sharing kv head h are stacked: one GEMM serves them all.
                at::Tensor qb = q[h].narrow(1, q0, nq).reshape({G * nq, D});
                at::Tensor o;
                if (seg.keys.size() == 1) {
                    o = partial(qb, h, seg.keys[0].first, seg.keys[0].second).first;
                } else {
                    // Several key ranges: one partial result per range, merged by their
                    // log-sum-exp (upstream's range-attention fallback). Upstream's partials
                    // come out of flash attention in bf16; round them the same way if asked.
                    std::vector<at::Tensor> outs, lses;
                    for (const auto& [kb, ke] : seg.keys) {
                        auto [po, plse] = partial(qb, h, kb, ke);
                        outs.push_back(options.bf16_partials ? po.to(at::kBFloat16).to(at::kFloat) : po);
                        lses.push_back(plse);
                    }
                    at::Tensor lse = at::logsumexp(at::cat(lses, 1), 1, true);
                    o = at::zeros_like(outs[0]);
                    for (size_t r = 0; r < outs.size(); ++r) o.add_(outs[r] * (lses[r] - lse).exp());
                }
                out[h].narrow(1, q0, nq).copy_(o.view({G, nq, D}));
            }
        }
    }
    return out.view({Hq, L, D}).permute({1, 0, 2}).contiguous();  // [L, Hq, D]
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const std::vector<AttnRange>& ranges, double scale) {
    const int64_t L = q.size(0), Hq = q.size(1), Hkv = k.size(1);
    at::Tensor mask = at::zeros({L, L}, at::kFloat);
    if (ranges.empty()) {
        mask.fill_(1);
    } else {
        for (const auto& r : ranges)
            mask.narrow(0, r.q_begin, r.q_end - r.q_begin).narrow(1, r.k_begin, r.k_end - r.k_begin).add_(1);
    }
    at::Tensor qf = q.to(at::kFloat).permute({1, 0, 2});                                  // [Hq,L,D]
    at::Tensor kf = k.to(at::kFloat).repeat_interleave(Hq / Hkv, 1).permute({1, 0, 2});   // [Hq,L,D]
    at::Tensor vf = v.to(at::kFloat).repeat_interleave(Hq / Hkv, 1).permute({1, 0, 2});
    at::Tensor s = at::bmm(qf, kf.transpose(1, 2)) * scale;
    // A key covered twice counts twice (multiplicity weights), as upstream's LSE merge does.
    at::Tensor w = at::exp(s - std::get<0>(s.max(-1, true))) * mask;
    at::Tensor p = w / w.sum(-1, true);
    return at::bmm(p, vf).permute({1, 0, 2}).contiguous();
}

}  // namespace canter::tensor
