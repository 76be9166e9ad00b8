#include "canter/version.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <algorithm>
#include <string>
#include <thread>

#include "tensor/compat.h"

namespace canter {

const char* backend_description() {
    static const std::string desc = [] {
        std::string s = "LibTorch ";
#ifdef TORCH_VERSION
        s += TORCH_VERSION;
#else
        s += std::to_string(TORCH_VERSION_MAJOR) + ".x";
#endif
        s += at::hasCUDA() ? ", CUDA available" : ", CPU only";
        s += ", " + std::to_string(at::get_num_threads()) + " threads";
        return s;
    }();
    return desc.c_str();
}

void set_cpu_threads(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
}

}  // namespace canter
