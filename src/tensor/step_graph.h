// Records a fixed sequence of CUDA work once and replays it (CUDA graphs): for the denoising step,
// whose shapes are the same every step while the weights stay resident, replay removes the
// per-kernel launch cost. The recorded work reads and writes the same tensors on every replay, so
// callers copy new inputs into the captured input tensors (`copy_`) and read the captured
// outputs. On CPU, or in a build without CUDA, `supported()` is false and callers run `fn` directly.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace canter::tensor {

class StepGraph {
public:
    StepGraph();
    ~StepGraph();
    StepGraph(StepGraph&&) noexcept;
    StepGraph& operator=(StepGraph&&) noexcept;

    // Whether graphs can be captured for work on `device` in this build and on this machine.
    static bool supported(const c10::Device& device);

    // Runs `fn` once to warm up (lazy allocations, cuBLAS handles), then records it on a side
    // stream. Throws canter::Error (kUnsupported) where supported() is false.
    void capture(const c10::Device& device, const std::function<void()>& fn);
    bool captured() const;
    // Replays the recorded work on the current stream's device; throws if nothing was captured.
    void replay();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace canter::tensor
