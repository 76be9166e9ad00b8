#include "tensor/attention_ranges.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "util/check.h"

namespace canter::tensor {

void check_attention_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    CANTER_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, InvalidArgument,
                 "attention expects q, k, v of shape [L, heads, head_dim]");
    const int64_t L = q.size(0), Hq = q.size(1), D = q.size(2), Hkv = k.size(1);
    CANTER_CHECK(
        k.size(0) == L && v.size(0) == L && k.size(2) == D && v.size(1) == Hkv && v.size(2) == D &&
            Hkv > 0 && Hq % Hkv == 0,
        InvalidArgument,
        "attention: incompatible q " << q.sizes() << ", k " << k.sizes() << ", v " << v.sizes());
}

std::vector<AttnRange> effective_ranges(int64_t L, const std::vector<AttnRange>& ranges) {
    if (ranges.empty()) return {AttnRange{0, L, 0, L}};
    for (const auto& r : ranges)
        CANTER_CHECK(0 <= r.q_begin && r.q_begin <= r.q_end && r.q_end <= L && 0 <= r.k_begin &&
                         r.k_begin <= r.k_end && r.k_end <= L,
                     InvalidArgument,
                     "attention range q[" << r.q_begin << "," << r.q_end << ") k[" << r.k_begin
                                          << "," << r.k_end << ") outside a sequence of " << L);
    return ranges;
}

std::vector<AttnSegment> attention_segments(int64_t L, const std::vector<AttnRange>& ranges) {
    std::vector<int64_t> cuts = {0, L};
    for (const auto& r : ranges) {
        cuts.push_back(r.q_begin);
        cuts.push_back(r.q_end);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::vector<AttnSegment> out;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        AttnSegment s{cuts[i], cuts[i + 1], {}};
        for (size_t r = 0; r < ranges.size(); ++r)
            if (ranges[r].q_begin <= s.q_begin && s.q_end <= ranges[r].q_end &&
                ranges[r].k_end > ranges[r].k_begin)
                s.ranges.push_back(r);
        out.push_back(std::move(s));
    }
    return out;
}

at::Tensor attention_input(const at::Tensor& t, at::ScalarType dt, bool bf16) {
    return bf16 ? t.to(at::kBFloat16).to(dt) : t.to(dt);
}

at::Tensor attention_output(const at::Tensor& heads_major, bool bf16) {
    const int64_t Hkv = heads_major.size(0), G = heads_major.size(1), L = heads_major.size(2);
    const int64_t D = heads_major.size(3);
    at::Tensor out =
        at::empty({L, Hkv * G, D}, heads_major.options().dtype(bf16 ? at::kBFloat16 : at::kFloat));
    out.view({L, Hkv, G, D}).copy_(heads_major.permute({2, 0, 1, 3}));
    return out.to(at::kFloat);  // no copy when already fp32
}

}  // namespace canter::tensor
