// Everything that differs between Debian's LibTorch 1.13 (CPU) and PyTorch's libtorch 2.x
// (CUDA) lives here, so the rest of canter is version-agnostic.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/ScalarType.h>

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

#ifndef TORCH_VERSION_MAJOR
#define TORCH_VERSION_MAJOR 1
#endif

namespace canter::tensor {

// RAII guard for inference-only code (no autograd bookkeeping).
using InferenceGuard = c10::InferenceMode;

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

}  // namespace canter::tensor
