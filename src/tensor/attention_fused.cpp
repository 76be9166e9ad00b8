// Attention through ATen's fused flash-attention kernels (the default behind tensor::attention).
//
// Ops, as declared in ATen 2.15 (present with the same argument order since 2.3, so within the
// supported 2.4+ without a version guard); both return the log-sum-exp the range merge needs,
// which the public at::scaled_dot_product_attention does not:
//   CPU:  _scaled_dot_product_flash_attention_for_cpu(query, key, value, dropout_p=0,
//         is_causal=false, attn_mask={}, scale) -> (output, logsumexp)
//   CUDA: _scaled_dot_product_flash_attention(query, key, value, dropout_p=0, is_causal=false,
//         return_debug_mask=false, scale) -> (output, logsumexp, cum_seq_q, cum_seq_k, max_q,
//         max_k, rng_state, unused, debug_attn_mask)   (FlashAttention-2; bf16/fp16 only)
// q/k/v are [B, heads, L, D] (any strides with a contiguous last dim); logsumexp is
// [B, heads, Lq] fp32, natural log of the sum of exp(scale * q.k).
//
// Choices, and why:
// * GQA: both kernels expect as many kv heads as query heads (2.4's CPU kernel indexes k/v with
//   the query head), and SDPA's own fallback for GQA repeats K/V and builds the full score
//   matrix. Attention here has no mask, so a query row's result depends only on that row and
//   the keys: the G query heads of kv head h are folded into the query sequence, Q viewed as
//   [1, Hkv, G*Lq, D] against K/V [1, Hkv, Lk, D]. K/V are passed as strided views, not copied.
// * Local ranges: one fused call per range, as upstream's fallback calls flash attention once
//   per (query range, key range) pair. Query rows covered by one range take that call's output
//   as it is; only rows covered by several ranges are merged by log-sum-exp.
// * Precision, bf16 mode: upstream hands bf16 q/k/v to flash attention (fp32 accumulation
//   inside) and gets bf16 out, and its range fallback merges bf16 partials. On CUDA the kernel
//   gets bf16 tensors: FlashAttention-2 also rounds the softmax probabilities P to bf16 before
//   P.V, which upstream's golden run (an fp32 stand-in for flash attention) does not. On the
//   CPU the kernel runs in fp32 on the bf16-rounded q/k/v, and the partials and the output are
//   rounded to bf16 explicitly: exactly the golden numerics. The bf16 CPU kernel
//   (options.cpu_bf16_kernel) rounds P like FlashAttention-2: that moves 0.3-0.8 % of a
//   golden layer's outputs by more than 1e-2 (the signature of a missing cast in
//   DitGoldenLayer), and on the AVX512-BF16 build machine it is no faster than fp32 (1.93 s
//   both for the bench's 4010-token layer, 40q/8kv heads, 2 threads). Without
//   native bf16 GEMM it would also hit ATen's scalar bf16 fallback. fp32 mode runs the CPU
//   kernel in fp32; CUDA has no fp32 flash kernel (and the fp32 contract forbids TF32), so fp32
//   on CUDA stays with the reference kernel (see fused_attention_applies).
#include <ATen/ATen.h>

#include <tuple>

#include "tensor/attention.h"
#include "tensor/attention_ranges.h"
#include "tensor/device_info.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::tensor {

namespace {

// One range's result: out [Hkv, G, n, D] in the kernel's dtype, lse [Hkv, G, n] fp32.
struct Partial {
    at::Tensor out, lse;
};

// qh [Hkv, G, L, D], kh/vh [Hkv, L, D] (views) in the kernel's dtype.
Partial fused_range(const at::Tensor& qh, const at::Tensor& kh, const at::Tensor& vh,
                    const AttnRange& r, double scale) {
    const int64_t Hkv = qh.size(0), G = qh.size(1), D = qh.size(3);
    const int64_t n = r.q_end - r.q_begin, nk = r.k_end - r.k_begin;
    // The GQA fold: a view when the range spans the whole sequence, one copy of q otherwise.
    const at::Tensor q = qh.narrow(2, r.q_begin, n).reshape({1, Hkv, G * n, D});
    const at::Tensor k = kh.narrow(1, r.k_begin, nk).unsqueeze(0);  // [1, Hkv, nk, D]
    const at::Tensor v = vh.narrow(1, r.k_begin, nk).unsqueeze(0);
    at::Tensor o, lse;
    if (q.is_cpu()) {
        std::tie(o, lse) =
            at::_scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, false, {}, scale);
    } else {
        const auto res = at::_scaled_dot_product_flash_attention(q, k, v, 0.0, false, false, scale);
        o = std::get<0>(res);
        lse = std::get<1>(res);
    }
    // Some kernels pad the log-sum-exp's query axis (the memory-efficient one to 32 rows).
    return {o.reshape({Hkv, G, n, D}), lse.narrow(2, 0, G * n).reshape({Hkv, G, n})};
}

// The dtype the kernel runs in on q's device (see the header comment).
at::ScalarType kernel_dtype(const at::Tensor& q, const AttentionOptions& options) {
    if (!options.bf16) return at::kFloat;
    if (q.is_cuda()) return at::kBFloat16;
    return options.cpu_bf16_kernel && has_fast_bf16_matmul(q.device()) ? at::kBFloat16 : at::kFloat;
}

}  // namespace

bool fused_attention_applies(const at::Tensor& q, bool bf16) {
    if (q.is_cpu()) return true;  // fp32 and bf16, any head_dim
    if (!q.is_cuda() || !bf16 || q.dim() != 3) return false;
    // FlashAttention-2's limits: head_dim a multiple of 8 up to 256, Ampere or newer.
    const int64_t D = q.size(2);
    if (D % 8 != 0 || D > 256) return false;
    const int index = q.device().has_index() ? q.device().index() : 0;
    for (const auto& d : backend_info().devices)
        if (d.index == index) return d.major >= 8;
    return false;
}

at::Tensor attention_fused(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                           const std::vector<AttnRange>& ranges_in, double scale,
                           const AttentionOptions& options) {
    check_attention_inputs(q_in, k_in, v_in);
    CANTER_CHECK(fused_attention_applies(q_in, options.bf16), Unsupported,
                 "fused attention: no fused kernel for " << (options.bf16 ? "bf16" : "fp32")
                                                         << " on " << q_in.device()
                                                         << " with head_dim " << q_in.size(2));
    const int64_t L = q_in.size(0), Hq = q_in.size(1), D = q_in.size(2), Hkv = k_in.size(1);
    const int64_t G = Hq / Hkv;
    const auto ranges = effective_ranges(L, ranges_in);
    const at::ScalarType dt = kernel_dtype(q_in, options);
    auto in = [&](const at::Tensor& t) { return attention_input(t, dt, options.bf16); };
    const at::Tensor qh =
        in(q_in).reshape({L, Hkv, G, D}).permute({1, 2, 0, 3}).contiguous();  // [Hkv,G,L,D]
    const at::Tensor kh = in(k_in).permute({1, 0, 2});                        // [Hkv, L, D] view
    const at::Tensor vh = in(v_in).permute({1, 0, 2});

    std::vector<Partial> parts(ranges.size());
    for (size_t r = 0; r < ranges.size(); ++r)
        if (ranges[r].q_end > ranges[r].q_begin && ranges[r].k_end > ranges[r].k_begin)
            parts[r] = fused_range(qh, kh, vh, ranges[r], scale);

    const auto segments = attention_segments(L, ranges);
    // Full attention (one range over everything): the kernel's output is the result.
    if (segments.size() == 1 && segments[0].ranges.size() == 1 &&
        ranges[segments[0].ranges[0]].q_begin == 0)
        return attention_output(parts[segments[0].ranges[0]].out, options.bf16);

    at::Tensor out = at::zeros({Hkv, G, L, D}, qh.options().dtype(at::kFloat));
    for (const auto& seg : segments) {
        const int64_t n = seg.q_end - seg.q_begin;
        // The segment's rows of range r's result (out or lse).
        auto rows_of = [&](size_t r, const at::Tensor& t) {
            return t.narrow(2, seg.q_begin - ranges[r].q_begin, n);
        };
        at::Tensor dst = out.narrow(2, seg.q_begin, n);
        if (seg.ranges.empty()) continue;  // a query that sees no key outputs zeros
        if (seg.ranges.size() == 1) {
            dst.copy_(rows_of(seg.ranges[0], parts[seg.ranges[0]].out));
            continue;
        }
        // Several ranges: merge the partials by their log-sum-exp, in fp32 (upstream's
        // fallback); in bf16 mode the partials are bf16, as flash attention returns them.
        std::vector<at::Tensor> lses;
        for (size_t r : seg.ranges) lses.push_back(rows_of(r, parts[r].lse));
        const at::Tensor lse = at::logsumexp(at::stack(lses), 0);  // [Hkv, G, n]
        for (size_t i = 0; i < seg.ranges.size(); ++i) {
            at::Tensor o = rows_of(seg.ranges[i], parts[seg.ranges[i]].out);
            if (options.bf16) o = o.to(at::kBFloat16);
            dst.add_(o.to(at::kFloat) * (lses[i] - lse).exp_().unsqueeze(-1));
        }
    }
    return attention_output(out, options.bf16);
}

}  // namespace canter::tensor
