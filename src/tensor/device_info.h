// What the tensor backend of this build is and which devices it sees: the LibTorch version, the
// CUDA version compiled in, and the CUDA devices found at run time (none on a machine without a
// driver, which is fine: the CUDA path is linked but never entered).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::tensor {

struct CudaDeviceInfo {
    int index = 0;
    std::string name;
    int major = 0, minor = 0;  // compute capability (sm_<major><minor>)
    double memory_gib = 0;
    // Whether a kernel compiled into canter ran on it (false: its architecture is missing from
    // TORCH_CUDA_ARCH_LIST, "no kernel image is available"); `probe_error` says why.
    bool kernels_run = false;
    std::string probe_error;
};

struct BackendInfo {
    std::string torch_version;      // "2.15.0"
    bool cuda_compiled = false;     // the CUDA path is compiled and linked into this build
    std::string cuda_compiled_version;  // toolkit the .cu code was compiled with, "13.0"
    std::string cuda_runtime_version;   // libcudart loaded at run time, "13.2"
    std::string cuda_driver_version;    // "" without a driver
    std::vector<CudaDeviceInfo> devices;
    std::string no_device_reason;   // why `devices` is empty
    std::string cuda_arch_list;     // the architectures canter's kernels were built for
};

// Queries once per process (CUDA device properties and one probe kernel per device).
const BackendInfo& backend_info();

// One line: "LibTorch 2.15.0, CUDA 13.0 compiled (runtime 13.2), no CUDA device (...)".
std::string describe_backend(const BackendInfo& info);

// Waits until the work queued on `device` has finished (nothing to wait for on CPU, where ATen
// runs synchronously): benchmarks and stage timings measure device work with it.
void synchronize(const c10::Device& device);

// Free memory of a CUDA device in bytes (0 for the CPU or when unknown).
uint64_t device_memory_free(const c10::Device& device);

// "cpu", "cuda" (= cuda:0) or "cuda:N" as a device that can run here. Throws canter::Error:
// InvalidArgument for any other name, Unsupported for a CUDA device this machine cannot use;
// both messages start with `flag` (e.g. "--device").
c10::Device parse_device(const std::string& name, const std::string& flag);

// Whether a usable CUDA device is present (devices found and canter's kernels run on device 0).
bool cuda_usable();

}  // namespace canter::tensor
