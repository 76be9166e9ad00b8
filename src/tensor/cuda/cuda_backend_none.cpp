// Builds without the CUDA path (LibTorch without CUDA, or no nvcc): every query says so.
#include "tensor/cuda/cuda_backend.h"

namespace canter::tensor::cuda {

bool compiled() { return false; }

void query(BackendInfo& info) { info.no_device_reason = "this build has no CUDA path"; }

void synchronize(int) {}

std::string run_probe_kernel(int) { return "this build has no CUDA path"; }

uint64_t free_memory(int) { return 0; }

}  // namespace canter::tensor::cuda
