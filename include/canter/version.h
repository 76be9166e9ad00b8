#pragma once

namespace canter {

constexpr const char* kVersion = "0.1.0";

// Human-readable description of the tensor backend this build uses
// (LibTorch version, CUDA availability, thread count).
const char* backend_description();

// Sets the number of CPU threads the tensor library uses (0 = all hardware threads).
// Call once at start-up, before any work; LibTorch's default can be lower than the core count.
void set_cpu_threads(int threads = 0);

}  // namespace canter
