// Which implementation canter's fast-path ops use: ATen's fused kernels (the default) or canter's
// own reference kernels, which every fast path keeps beside it and which the tests compare it to.
#pragma once

namespace canter::tensor {

enum class KernelChoice {
    kDefault,    // what CANTER_KERNELS says (fused unless it says "reference")
    kFused,      // ATen's fused kernels where they apply to the device and dtype
    kReference,  // canter's reference kernels everywhere
};

// CANTER_KERNELS, read once per process: unset, "" or "fused" -> kFused; "reference" ->
// kReference; anything else throws InvalidArgument naming the variable. Never kDefault.
KernelChoice kernels_from_env();

// The parse behind kernels_from_env (nullptr = unset), exposed for tests.
KernelChoice parse_kernels(const char* value);

// `requested` with kDefault resolved through kernels_from_env(): an explicit choice (tests,
// benchmarks) wins over the environment, so one process can run both paths.
KernelChoice resolve(KernelChoice requested);

}  // namespace canter::tensor
