#include "tensor/kernels.h"

#include <cstdlib>
#include <string>

#include "util/check.h"

namespace canter::tensor {

KernelChoice parse_kernels(const char* env) {
    const std::string s = env ? env : "";
    if (s.empty() || s == "fused") return KernelChoice::kFused;
    if (s == "reference") return KernelChoice::kReference;
    CANTER_THROW(InvalidArgument,
                 "CANTER_KERNELS must be \"fused\" or \"reference\", got \"" << s << "\"");
}

KernelChoice kernels_from_env() {
    // Read once: a run must not switch kernels half-way (a function-local static initialised
    // by a throwing parse_kernels() is retried, so a bad value fails every call the same way).
    static const KernelChoice choice = parse_kernels(std::getenv("CANTER_KERNELS"));
    return choice;
}

KernelChoice resolve(KernelChoice requested) {
    return requested == KernelChoice::kDefault ? kernels_from_env() : requested;
}

}  // namespace canter::tensor
