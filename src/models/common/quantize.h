// Weight-only quantization of block matrices, in the layout vLLM's compressed checkpoints use:
// `K` stored as I8 (symmetric, round-to-nearest, [-127, 127]) or F8_E4M3 (saturating at ±448)
// with an F32 `K_scale` of shape [rows] beside it, one scale per output channel:
// w[r, :] ≈ q[r, :] * scale[r].
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace canter::models {

enum class WeightFormat { kAsStored, kInt8, kFp8 };
const char* weight_format_name(WeightFormat f);  // "as stored", "int8", "fp8"
WeightFormat parse_weight_format(const std::string& s);  // "int8" | "fp8"; throws naming the value

// The key of the scale beside quantized tensor `key`.
std::string scale_key(const std::string& key);
bool is_scale_key(const std::string& key);
// Whether `dtype` is one of the quantized storage dtypes (int8, float8_e4m3fn).
bool is_quantized_dtype(at::ScalarType dtype);

struct QuantizedMatrix {
    at::Tensor values;  // [rows, cols] int8 or float8_e4m3fn
    at::Tensor scale;   // [rows] fp32
};

// Quantizes a 2-D matrix (any floating dtype, any device) per row. All-zero rows get scale 1.
// Scales are bf16-representable values (rounded up from amax / qmax), stored as fp32.
QuantizedMatrix quantize_rows(const at::Tensor& w, WeightFormat format);

// values * scale[:, None] written into `out` (bf16 or fp32, same shape, same device): widened in
// place, then scaled in out's dtype (a bf16 scale for bf16 output; no fp32 temporary).
void dequantize_into(at::Tensor& out, const at::Tensor& values, const at::Tensor& scale);
at::Tensor dequantize(const at::Tensor& values, const at::Tensor& scale, at::ScalarType dtype);

}  // namespace canter::models
