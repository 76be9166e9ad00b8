// Multi-head attention over a packed sequence without materialising the L x L score
// matrix: queries are processed in blocks, keys in blocks with an online (streaming) softmax.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace canter::tensor {

// Queries [q_begin, q_end) attend to keys [k_begin, k_end). A query row covered by several
// ranges gets one softmax over the union of their keys (upstream merges the partial results
// with their log-sum-exp, which is the same thing).
struct AttnRange {
    int64_t q_begin, q_end, k_begin, k_end;
};

struct AttentionOptions {
    int64_t q_block = 256;   // query rows per block (per query head)
    int64_t k_block = 4096;  // keys per online-softmax step
    // Round each key range's partial output to bf16 before the log-sum-exp merge, as
    // upstream's per-range flash-attention fallback does (bf16 precision only).
    bool bf16_partials = false;
};

// q [L, Hq, D], k and v [L, Hkv, D], Hq a multiple of Hkv (GQA: query head h reads kv head
// h / (Hq/Hkv)). Non-causal. `ranges` empty = every query sees every key. Math in fp32
// (the values may be bf16-rounded by the caller); returns [L, Hq, D] fp32.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const std::vector<AttnRange>& ranges, double scale,
                     const AttentionOptions& options = {});

// Plain softmax(q k^T) v with an explicit [L, L] mask built from `ranges`: the test oracle.
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const std::vector<AttnRange>& ranges, double scale);

}  // namespace canter::tensor
