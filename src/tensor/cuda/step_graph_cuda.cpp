#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "tensor/device_info.h"
#include "tensor/step_graph.h"
#include "util/check.h"

namespace canter::tensor {

struct StepGraph::Impl {
    // Made at capture time: constructing a CUDAGraph touches the CUDA context, which a
    // machine without a driver does not have.
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    bool captured = false;
};

StepGraph::StepGraph() : impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;
StepGraph::StepGraph(StepGraph&&) noexcept = default;
StepGraph& StepGraph::operator=(StepGraph&&) noexcept = default;

bool StepGraph::supported(const c10::Device& device) { return device.is_cuda() && cuda_usable(); }

void StepGraph::capture(const c10::Device& device, const std::function<void()>& fn) {
    CANTER_CHECK(supported(device), Unsupported,
                 "CUDA graphs need a usable CUDA device (asked for " << device << ")");
    CANTER_CHECK(!impl_->captured, InvalidArgument, "this StepGraph already holds a capture");
    c10::cuda::CUDAGuard device_guard(device);
    // Capture must not run on the legacy default stream: a pool stream, synchronised both ways.
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent caller_ready, side_done;
    caller_ready.record(caller);
    caller_ready.block(side);
    {
        c10::cuda::CUDAStreamGuard stream_guard(side);
        fn();  // warm-up outside the capture
        impl_->graph = std::make_unique<at::cuda::CUDAGraph>();
        impl_->graph->capture_begin();
        fn();
        impl_->graph->capture_end();
    }
    side_done.record(side);
    side_done.block(caller);
    impl_->captured = true;
}

bool StepGraph::captured() const { return impl_->captured; }

void StepGraph::replay() {
    CANTER_CHECK(impl_->captured, InvalidArgument, "StepGraph::replay before capture");
    impl_->graph->replay();
}

}  // namespace canter::tensor
