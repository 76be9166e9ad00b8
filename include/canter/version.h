#pragma once

namespace canter {

constexpr const char* kVersion = "0.1.0";

// Human-readable description of the tensor backend this build uses
// (LibTorch version, CUDA availability, thread count).
const char* backend_description();

}  // namespace canter
