// Multi-head attention over a packed sequence, never materialising the L x L score matrix.
// One entry point, tensor::attention, picks the implementation:
//   * fused (default): ATen's flash-attention kernels (attention_fused.cpp): on the CPU for
//     fp32 and bf16 mode, on CUDA for bf16 mode;
//   * reference kernel: canter's own blocked kernel with an online softmax
//     (attention_blocked.cpp), everywhere else and whenever CANTER_KERNELS=reference.
// attention_reference (a dense masked softmax) is the test oracle for both.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "tensor/kernels.h"

namespace canter::tensor {

// Queries [q_begin, q_end) attend to keys [k_begin, k_end). A query row covered by several
// ranges gets one softmax over the union of their keys (upstream merges the partial results
// with their log-sum-exp, which is the same thing; a key in two of them counts twice).
struct AttnRange {
    int64_t q_begin, q_end, k_begin, k_end;
};

struct AttentionOptions {
    int64_t q_block = 256;   // reference kernel: query rows per block (per query head)
    int64_t k_block = 4096;  // reference kernel: keys per online-softmax step
    // Upstream's bf16 flash attention: q/k/v are rounded to bf16 first, the partial result of
    // each key range is rounded to bf16 before the log-sum-exp merge (upstream's per-range
    // fallback), and the output is rounded to bf16.
    bool bf16 = false;
    // Fused path, bf16 mode, CPU: run ATen's kernel in bf16 instead of fp32 on the bf16 values.
    // The bf16 kernel rounds the softmax probabilities to bf16 before P.V (as FlashAttention-2
    // does on CUDA, where there is no other choice); upstream's golden numerics keep them fp32,
    // and on the AVX512-BF16 build machine both run at the same speed, so it is off by default.
    // Needs native bf16 GEMM (has_fast_bf16_matmul); ignored elsewhere.
    bool cpu_bf16_kernel = false;
    // kDefault follows CANTER_KERNELS; tests and benchmarks name a kernel to run both in one
    // process. kFused still takes the reference kernel where no fused kernel applies.
    KernelChoice kernel = KernelChoice::kDefault;
};

// q [L, Hq, D], k and v [L, Hkv, D], Hq a multiple of Hkv (GQA: query head h reads kv head
// h / (Hq/Hkv)). Non-causal, no mask. `ranges` empty = every query sees every key; a query in
// no range outputs zeros. Any float dtype in; returns [L, Hq, D] fp32 (bf16-valued with
// options.bf16). Thread-safe: no state besides the once-read environment.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::vector<AttnRange>& ranges, double scale,
                     const AttentionOptions& options = {});

// Whether attention_fused runs on q's device for this precision (CPU: always; CUDA: bf16,
// head_dim a multiple of 8 up to 256, compute capability 8.0 or newer).
bool fused_attention_applies(const at::Tensor& q, bool bf16);

// The two implementations behind attention(), same contract (options.kernel is ignored).
// attention_fused throws Unsupported where fused_attention_applies() is false.
at::Tensor attention_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const std::vector<AttnRange>& ranges, double scale,
                           const AttentionOptions& options = {});
at::Tensor attention_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const std::vector<AttnRange>& ranges, double scale,
                             const AttentionOptions& options = {});

// Plain softmax(q k^T) v in fp32 with an explicit [L, L] mask built from `ranges`, on the CPU:
// the test oracle (O(L^2) memory).
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const std::vector<AttnRange>& ranges, double scale);

}  // namespace canter::tensor
