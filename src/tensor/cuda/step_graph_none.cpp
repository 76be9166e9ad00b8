// Builds without the CUDA path: StepGraph is never supported; callers run their work directly.
#include "tensor/step_graph.h"
#include "util/check.h"

namespace canter::tensor {

struct StepGraph::Impl {};

StepGraph::StepGraph() : impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;
StepGraph::StepGraph(StepGraph&&) noexcept = default;
StepGraph& StepGraph::operator=(StepGraph&&) noexcept = default;

bool StepGraph::supported(const c10::Device&) { return false; }

void StepGraph::capture(const c10::Device& device, const std::function<void()>&) {
    CANTER_THROW(Unsupported, "CUDA graphs: this build has no CUDA path (asked for " << device << ")");
}

bool StepGraph::captured() const { return false; }

void StepGraph::replay() { CANTER_THROW(Unsupported, "CUDA graphs: this build has no CUDA path"); }

}  // namespace canter::tensor
