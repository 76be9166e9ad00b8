#include "canter/version.h"
#include "tensor/device_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <optional>
#include <cstdio>
#include <sstream>
#include <thread>

#include "tensor/compat.h"
#include "tensor/cuda/cuda_backend.h"
#include "util/check.h"

namespace canter {
namespace tensor {

const BackendInfo& backend_info() {
    static const BackendInfo info = [] {
        BackendInfo b;
        b.torch_version = TORCH_VERSION;
        b.cuda_compiled = cuda::compiled();
        if (b.cuda_compiled) cuda::query(b);
        else b.no_device_reason = "this build has no CUDA path";
        return b;
    }();
    return info;
}

std::string describe_backend(const BackendInfo& b) {
    std::ostringstream s;
    s << "LibTorch " << b.torch_version;
    if (!b.cuda_compiled) {
        s << ", CPU only (no CUDA compiled)";
        return s.str();
    }
    s << ", CUDA " << b.cuda_compiled_version << " compiled";
    if (!b.cuda_runtime_version.empty() && b.cuda_runtime_version != b.cuda_compiled_version)
        s << " (runtime " << b.cuda_runtime_version << ")";
    if (b.devices.empty()) {
        s << ", no CUDA device";
        if (!b.no_device_reason.empty()) s << " (" << b.no_device_reason << ")";
        return s.str();
    }
    s << ", " << b.devices.size() << " CUDA device" << (b.devices.size() > 1 ? "s" : "");
    if (!b.cuda_driver_version.empty()) s << " (driver CUDA " << b.cuda_driver_version << ")";
    for (const auto& d : b.devices) {
        char mem[32];
        std::snprintf(mem, sizeof mem, "%.0f GiB", d.memory_gib);
        s << "; cuda:" << d.index << " " << d.name << " sm_" << d.major << d.minor << " " << mem;
        if (!d.kernels_run) s << " [canter kernels do not run: " << d.probe_error << "]";
    }
    return s.str();
}

void synchronize(const c10::Device& device) {
    if (device.is_cuda()) cuda::synchronize(device.has_index() ? device.index() : 0);
}

uint64_t device_memory_free(const c10::Device& device) {
    return device.is_cuda() ? cuda::free_memory(device.has_index() ? device.index() : 0) : 0;
}

c10::Device parse_device(const std::string& name, const std::string& flag) {
    if (name == "cpu") return c10::Device(c10::kCPU);
    std::optional<c10::Device> d;
    try {
        d = c10::Device(name == "cuda" ? "cuda:0" : name);
    } catch (const std::exception&) {
    }
    CANTER_CHECK(d && d->is_cuda(), InvalidArgument, flag << " must be cpu, cuda or cuda:N, got '" << name << "'");
    const auto& b = backend_info();
    CANTER_CHECK(cuda_usable() && d->index() < static_cast<int>(b.devices.size()), Unsupported,
                 flag << " " << name << ": no usable CUDA device here (" << describe_backend(b) << ")");
    return *d;
}

bool cuda_usable() {
    const auto& b = backend_info();
    return !b.devices.empty() && b.devices.front().kernels_run;
}

}  // namespace tensor

const char* backend_description() {
    static const std::string desc =
        tensor::describe_backend(tensor::backend_info()) + ", " + std::to_string(at::get_num_threads()) + " CPU threads";
    return desc.c_str();
}

void set_cpu_threads(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
}

}  // namespace canter

namespace canter::tensor {

void disable_tf32() {
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
}

}  // namespace canter::tensor
