// What both attention kernels share: input validation and the cut of the query axis into
// segments that each see one fixed set of ranges. Internal to src/tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/attention.h"

namespace canter::tensor {

// Query rows [q_begin, q_end) are covered by exactly the ranges listed (indices into the range
// list, only ranges with at least one key; several = their results are merged by log-sum-exp).
struct AttnSegment {
    int64_t q_begin, q_end;
    std::vector<size_t> ranges;
};

// Throws InvalidArgument unless q [L, Hq, D], k and v [L, Hkv, D], Hq a multiple of Hkv.
void check_attention_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// The range list the kernels work on: `ranges` itself, or one range [0, L) x [0, L) when it is
// empty (full attention). Throws InvalidArgument for a range outside [0, L).
std::vector<AttnRange> effective_ranges(int64_t L, const std::vector<AttnRange>& ranges);

// Splits [0, L) at every range boundary of `ranges` (an effective_ranges() list), in order.
std::vector<AttnSegment> attention_segments(int64_t L, const std::vector<AttnRange>& ranges);

// t in the kernel's dtype `dt`; through bf16 first when `bf16` (upstream's cast before flash
// attention), so a bf16 kernel converts once and an fp32 one sees bf16 values.
at::Tensor attention_input(const at::Tensor& t, at::ScalarType dt, bool bf16);

// [Hkv, G, L, D] (any strides, any float dtype) -> the [L, Hkv*G, D] fp32 result, bf16-rounded
// when `bf16` (flash attention's bf16 output): one copy, plus one conversion when bf16.
at::Tensor attention_output(const at::Tensor& heads_major, bool bf16);

}  // namespace canter::tensor
