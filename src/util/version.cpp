#include "canter/version.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <string>

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

}  // namespace canter
