// Small numeric building blocks shared by the models. All take and return fp32 activations
// unless stated; "bf16 semantics" means bf16 inputs, fp32 accumulation, one rounding of the
// output to bf16 (cuBLAS / oneDNN behaviour), whatever dtype the weight is stored in.
#pragma once

#include <ATen/core/Tensor.h>

namespace canter::tensor {

// Round fp32 values to the nearest bf16 and return them as fp32.
at::Tensor round_bf16(const at::Tensor& x);

// x [N, in] (fp32) times w [out, in]^T (+ b). With `bf16` set: bf16 semantics (see above);
// w may then be stored in bf16 (native bf16 GEMM) or fp32 holding bf16 values (fp32 GEMM,
// used on CPUs without fast bf16 matrix units). Returns fp32.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {},
                  bool bf16 = false);

// x * rsqrt(mean(x^2, -1) + eps) * (w + 1), computed in fp32 (upstream RMSNorm convention).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps = 1e-6);

// Whether this device multiplies bf16 matrices natively (CUDA, or a CPU with AVX512-BF16/AMX);
// decides whether bf16 weights stay bf16 in memory or are widened to fp32 at load.
bool has_fast_bf16_matmul(const c10::Device& device);

}  // namespace canter::tensor
