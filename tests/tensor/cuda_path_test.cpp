// The CUDA path of this build: what `canter version` reports, the probe kernel canter compiles
// itself, and CUDA graph capture/replay. Without a usable CUDA device the device cases skip with
// the reason; everything that needs no device runs everywhere.
#include <ATen/ATen.h>
#include <torch/version.h>

#include "tensor/cuda/cuda_backend.h"
#include "tensor/device_info.h"
#include "tensor/step_graph.h"
#include "test_util.h"

namespace canter {
namespace {

TEST(CudaPath, CompiledIntoThisBuildWhenConfigured) {
    const auto& info = tensor::backend_info();
    EXPECT_EQ(info.torch_version, TORCH_VERSION);
#ifdef CANTER_WITH_CUDA
    EXPECT_TRUE(info.cuda_compiled);
    EXPECT_FALSE(info.cuda_compiled_version.empty());
    EXPECT_FALSE(info.cuda_arch_list.empty());
    // ATen's CUDA ops are linked (libtorch_cuda registered its hooks), driver or not.
    EXPECT_TRUE(at::detail::getCUDAHooks().hasCUDA() || info.devices.empty());
#else
    EXPECT_FALSE(info.cuda_compiled);
#endif
    if (info.devices.empty()) EXPECT_FALSE(info.no_device_reason.empty());
}

TEST(CudaPath, VersionLineNamesTorchCudaAndDevices) {
    std::string out;
    ASSERT_EQ(testing::run_command(testing::canter_binary() + " version", &out), 0) << out;
    EXPECT_NE(out.find(std::string("LibTorch ") + TORCH_VERSION), std::string::npos) << out;
#ifdef CANTER_WITH_CUDA
    EXPECT_NE(out.find("CUDA " + tensor::backend_info().cuda_compiled_version + " compiled"), std::string::npos) << out;
#endif
    if (tensor::backend_info().devices.empty())
        EXPECT_NE(out.find("no CUDA device"), std::string::npos) << out;
    else
        EXPECT_NE(out.find("cuda:0"), std::string::npos) << out;
}

TEST(CudaPath, ProbeKernelRunsOnEveryDevice) {
    CANTER_SKIP_UNLESS_DEVICE("cuda");
    for (const auto& d : tensor::backend_info().devices) {
        EXPECT_TRUE(d.kernels_run) << "cuda:" << d.index << ": " << d.probe_error;
        EXPECT_EQ(tensor::cuda::run_probe_kernel(d.index), "");
    }
}

TEST(StepGraphTest, NotSupportedOnCpu) {
    EXPECT_FALSE(tensor::StepGraph::supported(c10::Device(c10::kCPU)));
    tensor::StepGraph g;
    EXPECT_NE(testing::error_of([&] { g.capture(c10::Device(c10::kCPU), [] {}); }), "");
    EXPECT_FALSE(g.captured());
    EXPECT_NE(testing::error_of([&] { g.replay(); }), "");
}

TEST(StepGraphTest, ReplayRecomputesFromNewInputs) {
    CANTER_SKIP_UNLESS_DEVICE("cuda");
    const c10::Device dev(c10::kCUDA, 0);
    const auto opts = at::TensorOptions().device(dev);
    at::Tensor x = at::zeros({256, 256}, opts), w = at::randn({256, 256}, opts), y = at::empty({256, 256}, opts);
    tensor::StepGraph g;
    g.capture(dev, [&] { at::mm_out(y, at::relu(x), w); });
    ASSERT_TRUE(g.captured());
    for (int i = 1; i <= 3; ++i) {
        x.copy_(at::randn({256, 256}, opts));
        g.replay();
        EXPECT_TRUE(testing::near(y, at::mm(at::relu(x), w), 1e-3, "replay " + std::to_string(i)));
    }
}

}  // namespace
}  // namespace canter
