// The README's first command, until end-to-end generation lands: one real DiT forward of a
// small built-in model (deterministic random weights) on a real 256p token geometry.
#pragma once

#include <ostream>

namespace canter {

struct DemoOptions {
    int seconds = 2;      // clip length the geometry is computed for
    unsigned seed = 42;
};

// Prints what it did to `out`; throws canter::Error on failure.
void run_demo_forward(const DemoOptions& options, std::ostream& out);

}  // namespace canter
