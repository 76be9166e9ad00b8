// A kernel canter compiles itself (not ATen's): if it runs, canter's own .cu code was built for
// this GPU's architecture (TORCH_CUDA_ARCH_LIST); if it does not, the GPU check says so up front
// instead of failing later inside a fused kernel.
#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace canter::tensor::cuda {

namespace {

__global__ void probe_kernel(int* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 3 * i + 1;
}

std::string error_text(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

}  // namespace

std::string run_probe_kernel_impl(int device) {
    constexpr int kN = 1000;
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) return error_text(e);
    int* d = nullptr;
    if ((e = cudaMalloc(&d, kN * sizeof(int))) != cudaSuccess) return error_text(e);
    probe_kernel<<<(kN + 255) / 256, 256>>>(d, kN);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    std::vector<int> host(kN, 0);
    if (e == cudaSuccess) e = cudaMemcpy(host.data(), d, kN * sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess) return error_text(e);
    for (int i = 0; i < kN; ++i)
        if (host[i] != 3 * i + 1) return "probe kernel wrote wrong values at index " + std::to_string(i);
    return "";
}

}  // namespace canter::tensor::cuda
