#include "tensor/ops.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

namespace canter::tensor {

at::Tensor round_bf16(const at::Tensor& x) { return x.to(at::kBFloat16).to(at::kFloat); }

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool bf16) {
    if (!bf16) {
        return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
    }
    at::Tensor y;
    if (w.scalar_type() == at::kBFloat16) {
        y = at::linear(x.to(at::kBFloat16), w);  // bf16 output, fp32 accumulation
        if (b.defined()) y = y + b.to(at::kBFloat16);
        return y.to(at::kFloat);
    }
    y = b.defined() ? at::linear(round_bf16(x), w, b) : at::linear(round_bf16(x), w);
    return round_bf16(y);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
    at::Tensor xf = x.to(at::kFloat);
    at::Tensor inv = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return xf * inv * (w.to(at::kFloat) + 1.0);
}

bool has_fast_bf16_matmul(const c10::Device& device) {
    if (device.is_cuda()) return true;
    if (const char* env = std::getenv("CANTER_CPU_BF16_MATMUL")) return std::strcmp(env, "1") == 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

}  // namespace canter::tensor
