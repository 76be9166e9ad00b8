// The storage policy behind the weight visitor for a model's block matrices (the big 2-D
// matrices of each repeated layer: 4 per DiT layer, 7 per T5Gemma layer, ~97 % of the bytes).
// The binder hands each block matrix either to its slot (kept exactly as the file stores it:
// a zero-copy view of the mapping on the CPU) or to a BlockStore, which keeps what the file
// holds and makes a compute-ready copy of one block at a time:
//   - resident, converted: bf16 kept, widened into a reusable scratch buffer per use (CPUs
//     without fast bf16 matmul, or --precision fp32 on a bf16 file);
//   - resident, quantized: int8 / fp8 values + fp32 scales kept, dequantized into the scratch;
//   - streamed: nothing kept; each block is read from the checkpoint with pread into a ring
//     of two buffers, one block ahead on a reader thread, so the read of block i+1 overlaps
//     the compute of block i and the pages never enter this process's resident set.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/common/weights.h"
#include "tensor/async_upload.h"

namespace canter::models {

struct StoragePolicy {
    c10::Device device = c10::Device(c10::kCPU);
    at::ScalarType compute_dtype = at::kFloat;  // what the GEMMs receive
    bool stream = false;                         // read every block from the checkpoint per use
    // After the last block, read block 0 ahead (a DiT's next step starts there; a text encoder
    // that runs once sets this false).
    bool prefetch_wraps = true;
};

// What streaming cost, since the last reset.
struct StreamStats {
    int64_t blocks_read = 0;
    uint64_t bytes_read = 0;
    double read_s = 0;  // time the reader spent in pread
    double wait_s = 0;  // time compute waited for a block: the part of reading not hidden
    // Streaming to a GPU: bytes copied host-to-device on the copy stream and the GPU time those
    // copies took (their bandwidth, to compare with the machine's pinned H2D rate).
    double upload_bytes = 0;
    double upload_s = 0;
    double upload_stall_s = 0;  // GPU time compute stood waiting for an upload (not hidden)
    double read_gbps() const { return read_s > 0 ? bytes_read / read_s / 1e9 : 0; }
};

class BlockStore {
public:
    explicit BlockStore(StoragePolicy policy);
    ~BlockStore();
    BlockStore(const BlockStore&) = delete;
    BlockStore& operator=(const BlockStore&) = delete;

    const StoragePolicy& policy() const { return policy_; }

    // Block matrix `key` of block `block`, [rows, cols] of `stored_dtype` in the file. Resident:
    // `stored` is the tensor to keep (on the policy's device). Streamed: `read` copies the raw
    // bytes into a buffer. `scale` (fp32 [rows], on the device) marks it quantized.
    void add_resident(int block, const std::string& key, at::Tensor stored, at::Tensor scale);
    void add_streamed(int block, const std::string& key, std::vector<int64_t> shape, at::ScalarType stored_dtype,
                      std::function<void(void*)> read, at::Tensor scale);

    bool has_block(int block) const;
    bool empty() const { return blocks_.empty(); }

    // The compute-ready tensors of one block, by key (views of the store's buffers). One lease
    // at a time: the next acquire() reuses the buffers, so the previous lease must be gone.
    class Lease {
    public:
        const at::Tensor& at(const std::string& key) const;
        bool contains(const std::string& key) const;

    private:
        friend class BlockStore;
        std::vector<std::pair<std::string, at::Tensor>> tensors_;
    };
    std::shared_ptr<const Lease> acquire(int block);

    // Fills the slots a model's per-layer visit names with a lease's tensors (slots the lease
    // does not hold keep what they have): how a model turns a lease into its layer struct.
    class LeaseBinder : public WeightVisitor {
    public:
        explicit LeaseBinder(const Lease& lease) : lease_(lease) {}
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>&, at::ScalarType,
                   bool) override {
            if (lease_.contains(key)) slot = lease_.at(key);
        }

    private:
        const Lease& lease_;
    };

    StreamStats stats() const;
    void reset_stats();
    // Bytes the store holds now (kept tensors, ring and scratch buffers).
    uint64_t held_bytes() const;

private:
    struct Item {
        std::string key;
        std::vector<int64_t> shape;
        at::ScalarType stored_dtype;
        at::Tensor stored;                  // resident
        std::function<void(void*)> read;    // streamed
        at::Tensor scale;                   // quantized
        uint64_t raw_offset = 0;            // in a ring slot (streamed)
        uint64_t scratch_offset = 0;        // in the scratch buffer, when converted
        bool converted = false;             // needs dequantize / dtype conversion per use
        uint64_t raw_bytes() const;
    };
    struct Block {
        std::vector<Item> items;
        uint64_t raw_bytes = 0, scratch_bytes = 0;
    };
    struct Slot {
        int block = -1;
        bool ready = false;
        std::exception_ptr error;
        at::Tensor buffer;  // uint8, ring_bytes_
    };

    Block& block_at(int block);
    void layout();  // offsets and buffer sizes, once after the last add
    void read_into(int block, Slot& slot);
    void reader_loop();
    int wait_for(int block);  // the slot index holding `block`, read
    void claim(int slot, int block);  // caller holds mutex_
    at::Tensor view(const at::Tensor& buffer, uint64_t offset, at::ScalarType dtype,
                    const std::vector<int64_t>& shape) const;

    StoragePolicy policy_;
    std::vector<Block> blocks_;  // index = block number; blocks with no items are empty
    bool laid_out_ = false;
    uint64_t ring_bytes_ = 0, scratch_bytes_ = 0;
    at::Tensor scratch_;                 // on the device
    at::Tensor device_raw_[2];           // streamed to CUDA: the raw blocks on the device
    void* device_ptr_[2] = {nullptr, nullptr};
    std::unique_ptr<tensor::AsyncUpload> upload_;  // copy stream (null: synchronous copies)
    std::weak_ptr<const Lease> current_;

    // Reader thread (streaming only): fills slots_[b % 2] with block b.
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    Slot slots_[2];
    int requested_ = -1;  // block the reader should read next, -1 = none
    bool stop_ = false;
    std::thread reader_;
    StreamStats stats_;
    tensor::UploadStats upload_base_;  // upload totals at the last reset
};

}  // namespace canter::models
