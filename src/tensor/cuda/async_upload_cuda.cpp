#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "tensor/async_upload.h"
#include "util/check.h"

namespace canter::tensor {

namespace {

void check(cudaError_t e, const char* what) {
    CANTER_CHECK(e == cudaSuccess, IO, "weight upload: " << what << ": " << cudaGetErrorString(e));
}

class CudaAsyncUpload : public AsyncUpload {
public:
    CudaAsyncUpload(const c10::Device& device, int slots)
        : device_(device), copy_stream_(c10::cuda::getStreamFromPool(false, device.index())) {
        c10::cuda::CUDAGuard guard(device_);
        slots_.resize(slots);
        for (auto& s : slots_) {
            check(cudaEventCreate(&s.start), "cudaEventCreate");
            check(cudaEventCreate(&s.uploaded), "cudaEventCreate");
            check(cudaEventCreate(&s.compute_ready), "cudaEventCreate");
            check(cudaEventCreateWithFlags(&s.released, cudaEventDisableTiming), "cudaEventCreate");
        }
    }
    ~CudaAsyncUpload() override {
        c10::cuda::CUDAGuard guard(device_);
        for (auto& s : slots_) {
            cudaEventSynchronize(s.uploaded);
            cudaEventDestroy(s.start);
            cudaEventDestroy(s.uploaded);
            cudaEventDestroy(s.compute_ready);
            cudaEventDestroy(s.released);
        }
    }

    void upload(int slot, const void* host, void* device, size_t bytes) override {
        c10::cuda::CUDAGuard guard(device_);
        Slot& s = slots_.at(slot);
        const cudaStream_t copy = copy_stream_.stream();
        if (s.ever_released) check(cudaStreamWaitEvent(copy, s.released, 0), "cudaStreamWaitEvent");
        check(cudaEventRecord(s.start, copy), "cudaEventRecord");
        check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, copy), "cudaMemcpyAsync");
        check(cudaEventRecord(s.uploaded, copy), "cudaEventRecord");
        std::lock_guard<std::mutex> lock(mutex_);
        s.pending_bytes = bytes;
        s.in_flight = true;
    }

    void wait_uploaded(int slot) override {
        c10::cuda::CUDAGuard guard(device_);
        const cudaStream_t compute = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
        Slot& s = slots_.at(slot);
        // When compute got here, against when the upload ended: a positive gap is a stall.
        check(cudaEventRecord(s.compute_ready, compute), "cudaEventRecord");
        check(cudaStreamWaitEvent(compute, s.uploaded, 0), "cudaStreamWaitEvent");
        std::lock_guard<std::mutex> lock(mutex_);
        s.ready_recorded = true;
    }

    void release(int slot) override {
        c10::cuda::CUDAGuard guard(device_);
        const cudaStream_t compute = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
        check(cudaEventRecord(slots_.at(slot).released, compute), "cudaEventRecord");
        slots_.at(slot).ever_released = true;
    }

    void wait_host_free(int slot) override {
        c10::cuda::CUDAGuard guard(device_);
        Slot& s = slots_.at(slot);
        check(cudaEventSynchronize(s.uploaded), "cudaEventSynchronize");
        bool ready = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ready = s.ready_recorded;
        }
        // The reader reuses this host slot only after compute moved past the layer it held,
        // so this wait is short; it makes the stall measurable.
        if (ready) check(cudaEventSynchronize(s.compute_ready), "cudaEventSynchronize");
        account(s, ready);
    }

    UploadStats stats() override {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }

private:
    struct Slot {
        cudaEvent_t start = nullptr, uploaded = nullptr, released = nullptr, compute_ready = nullptr;
        bool ever_released = false;
        bool ready_recorded = false;
        bool in_flight = false;
        size_t pending_bytes = 0;
    };

    void account(Slot& s, bool ready) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!s.in_flight) return;
        float ms = 0;
        if (cudaEventElapsedTime(&ms, s.start, s.uploaded) == cudaSuccess) {
            stats_.bytes += static_cast<double>(s.pending_bytes);
            stats_.seconds += ms / 1e3;
        }
        float gap = 0;
        if (ready && cudaEventElapsedTime(&gap, s.compute_ready, s.uploaded) == cudaSuccess && gap > 0)
            stats_.stall_seconds += gap / 1e3;
        s.in_flight = false;
        s.ready_recorded = false;
    }

    c10::Device device_;
    c10::cuda::CUDAStream copy_stream_;
    std::vector<Slot> slots_;
    std::mutex mutex_;
    UploadStats stats_;
};

}  // namespace

std::unique_ptr<AsyncUpload> AsyncUpload::create(const c10::Device& device, int slots) {
    if (!device.is_cuda()) return nullptr;
    const c10::Device d = device.has_index() ? device : c10::Device(c10::kCUDA, 0);
    return std::make_unique<CudaAsyncUpload>(d, slots);
}

}  // namespace canter::tensor
