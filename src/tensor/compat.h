// The few things that differ between the LibTorch versions canter supports (2.4, the minimum in
// cmake/torch.cmake, up to the pinned 2.15), so the rest of canter is version-agnostic.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>  // TORCH_VERSION, TORCH_VERSION_MAJOR/MINOR

namespace canter::tensor {

// RAII guard for inference-only code (no autograd bookkeeping).
using InferenceGuard = c10::InferenceMode;

// True when the LibTorch headers are at least major.minor.
constexpr bool torch_at_least(int major, int minor) {
    return TORCH_VERSION_MAJOR > major || (TORCH_VERSION_MAJOR == major && TORCH_VERSION_MINOR >= minor);
}

// Plain fp32 for CUDA matmuls and convolutions (TF32 off), as the fp32 conformance contract needs.
// Uses the setters every supported version has (2.9 added a per-backend precision API beside them).
void disable_tf32();

}  // namespace canter::tensor
