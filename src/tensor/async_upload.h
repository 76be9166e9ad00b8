// Host-to-GPU copies of streamed weights on their own CUDA stream, so the upload of layer i+1
// overlaps the compute of layer i (models/common/block_store.h). Two device slots alternate;
// events order everything without the host waiting on the GPU:
//   upload(s)          copy stream: waits until compute released slot s, copies, records "uploaded s"
//   wait_uploaded(s)   compute stream waits for "uploaded s" (the host does not block)
//   release(s)         compute stream records "slot s free" after the kernels that read it
//   wait_host_free(s)  host blocks until the last upload out of host slot s has finished, so
//                      the reader may overwrite that pinned buffer
// Without CUDA (or on a CPU device) create() returns null and callers copy synchronously.
#pragma once

#include <c10/core/Device.h>

#include <cstddef>
#include <memory>

namespace canter::tensor {

struct UploadStats {
    double bytes = 0;
    double seconds = 0;        // GPU time of the copies (event timing), for bytes/seconds = bandwidth
    double stall_seconds = 0;  // time the compute stream reached a layer before its upload ended
};

class AsyncUpload {
public:
    virtual ~AsyncUpload() = default;
    static std::unique_ptr<AsyncUpload> create(const c10::Device& device, int slots);

    virtual void upload(int slot, const void* host, void* device, size_t bytes) = 0;
    virtual void wait_uploaded(int slot) = 0;
    virtual void release(int slot) = 0;
    virtual void wait_host_free(int slot) = 0;
    virtual UploadStats stats() = 0;  // copies finished so far
};

}  // namespace canter::tensor
