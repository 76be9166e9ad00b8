// The CUDA side of the backend: compiled only when LibTorch has CUDA and nvcc is present
// (CANTER_WITH_CUDA); otherwise cuda_backend_none.cpp answers "not compiled". Nothing here links
// libcuda: the driver is reached through the CUDA runtime, which reports "no driver" cleanly on
// machines without one (the build and CI machines).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/device_info.h"

namespace canter::tensor::cuda {

// Whether this build has the CUDA path compiled and linked.
bool compiled();

// Fills the CUDA fields of `info` (versions, devices, one probe kernel per device).
void query(BackendInfo& info);

// Waits for every stream of `device`.
void synchronize(int device);

// Free memory on `device` in bytes (cudaMemGetInfo), 0 when it cannot be asked.
uint64_t free_memory(int device);

// Runs canter's probe kernel on `device`: "" when it ran and wrote the expected values, else the
// CUDA error (e.g. "no kernel image is available for execution on the device").
std::string run_probe_kernel(int device);

}  // namespace canter::tensor::cuda
