#include "tensor/cuda/cuda_backend.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>

#include <string>

namespace canter::tensor::cuda {

std::string run_probe_kernel_impl(int device);  // probe_kernel.cu

namespace {

// 13020 -> "13.2"
std::string cuda_version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

}  // namespace

bool compiled() { return true; }

void query(BackendInfo& info) {
    info.cuda_compiled_version = cuda_version_string(CUDART_VERSION);
#ifdef CANTER_CUDA_ARCH_LIST
    info.cuda_arch_list = CANTER_CUDA_ARCH_LIST;
#endif
    int v = 0;
    if (cudaRuntimeGetVersion(&v) == cudaSuccess && v > 0) info.cuda_runtime_version = cuda_version_string(v);
    if (cudaDriverGetVersion(&v) == cudaSuccess && v > 0) info.cuda_driver_version = cuda_version_string(v);
    // c10's count never throws: 0 when there is no driver or no device.
    const int n = c10::cuda::device_count();
    if (n == 0) {
        int ignored = 0;
        const cudaError_t e = cudaGetDeviceCount(&ignored);
        // Without a driver the runtime says "driver version is insufficient": say what it means.
        if (info.cuda_driver_version.empty()) info.no_device_reason = "no NVIDIA driver on this machine";
        else info.no_device_reason = e == cudaSuccess ? "no device" : cudaGetErrorString(e);
        cudaGetLastError();  // clear the sticky "no driver" error
        return;
    }
    for (int i = 0; i < n; ++i) {
        const cudaDeviceProp* p = at::cuda::getDeviceProperties(i);
        CudaDeviceInfo d;
        d.index = i;
        d.name = p->name;
        d.major = p->major;
        d.minor = p->minor;
        d.memory_gib = static_cast<double>(p->totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
        d.probe_error = run_probe_kernel_impl(i);
        d.kernels_run = d.probe_error.empty();
        info.devices.push_back(d);
    }
}

void synchronize(int device) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    c10::cuda::device_synchronize();
}

std::string run_probe_kernel(int device) { return run_probe_kernel_impl(device); }

uint64_t free_memory(int device) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) {
        (void)cudaGetLastError();  // clear it: later ATen calls must not see a stale error
        return 0;
    }
    return free;
}

}  // namespace canter::tensor::cuda
