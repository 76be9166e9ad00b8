// Counter-based random weights: element i of the tensor named `key` is a pure function of
// (seed, key, i). The same seed gives bit-identical values on every machine, thread count and
// generation order, so a model can be written in any chunking (make-test-model to disk, or
// straight into memory for `random:` models) and still be the same model.
//
// Values: an Irwin-Hall sum of four 16-bit uniforms from splitmix64(stream + i), centred and
// scaled to unit variance (bounded at ±3.46 sigma: no outliers), times `stddev`. Only integer
// arithmetic and one IEEE multiply per element, so no libm or vector-width differences.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace canter::models {

// The stream of `key` under `seed` (FNV-1a of the key mixed with the seed).
uint64_t keyed_stream(uint64_t seed, const std::string& key);

// Fills the contiguous fp32 tensor `out` with elements [first, first + out.numel()) of the
// stream: approximately N(0, stddev^2). Parallel over at::get_num_threads().
void fill_keyed_normal(at::Tensor& out, uint64_t stream, int64_t first, double stddev);

}  // namespace canter::models
