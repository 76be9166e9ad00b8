#include "models/common/block_store.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

#include "models/common/quantize.h"
#include "tensor/async_upload.h"
#include "util/check.h"

namespace canter::models {

namespace {

constexpr uint64_t kAlign = 64;  // every view starts cache-line (and any dtype) aligned

uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

uint64_t numel_of(const std::vector<int64_t>& shape) {
    uint64_t n = 1;
    for (auto d : shape) n *= static_cast<uint64_t>(d);
    return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

uint64_t BlockStore::Item::raw_bytes() const { return numel_of(shape) * c10::elementSize(stored_dtype); }

const at::Tensor& BlockStore::Lease::at(const std::string& key) const {
    for (const auto& [k, t] : tensors_)
        if (k == key) return t;
    CANTER_THROW(Internal, "block lease has no tensor '" << key << "'");
}

bool BlockStore::Lease::contains(const std::string& key) const {
    for (const auto& [k, t] : tensors_)
        if (k == key) return true;
    return false;
}

BlockStore::BlockStore(StoragePolicy policy) : policy_(policy) {}

BlockStore::~BlockStore() {
    if (reader_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        reader_.join();
    }
}

BlockStore::Block& BlockStore::block_at(int block) {
    CANTER_CHECK(block >= 0 && !laid_out_, Internal, "block store: adding block " << block << " after first use");
    if (static_cast<size_t>(block) >= blocks_.size()) blocks_.resize(block + 1);
    return blocks_[block];
}

void BlockStore::add_resident(int block, const std::string& key, at::Tensor stored, at::Tensor scale) {
    Item item;
    item.key = key;
    item.shape = stored.sizes().vec();
    item.stored_dtype = stored.scalar_type();
    item.stored = std::move(stored);
    item.scale = std::move(scale);
    block_at(block).items.push_back(std::move(item));
}

void BlockStore::add_streamed(int block, const std::string& key, std::vector<int64_t> shape,
                              at::ScalarType stored_dtype, std::function<void(void*)> read, at::Tensor scale) {
    CANTER_CHECK(policy_.stream, Internal, "block store: streamed tensor '" << key << "' in a resident store");
    Item item;
    item.key = key;
    item.shape = std::move(shape);
    item.stored_dtype = stored_dtype;
    item.read = std::move(read);
    item.scale = std::move(scale);
    block_at(block).items.push_back(std::move(item));
}

bool BlockStore::has_block(int block) const {
    return block >= 0 && static_cast<size_t>(block) < blocks_.size() && !blocks_[block].items.empty();
}

void BlockStore::layout() {
    const auto compute_size = c10::elementSize(policy_.compute_dtype);
    for (auto& b : blocks_) {
        for (auto& it : b.items) {
            it.converted = it.scale.defined() || it.stored_dtype != policy_.compute_dtype;
            if (policy_.stream) {
                it.raw_offset = b.raw_bytes;
                b.raw_bytes += align_up(it.raw_bytes());
            }
            if (it.converted) {
                it.scratch_offset = b.scratch_bytes;
                b.scratch_bytes += align_up(numel_of(it.shape) * compute_size);
            }
        }
        ring_bytes_ = std::max(ring_bytes_, b.raw_bytes);
        scratch_bytes_ = std::max(scratch_bytes_, b.scratch_bytes);
    }
    const auto dev = at::TensorOptions().dtype(at::kByte).device(policy_.device);
    if (scratch_bytes_ > 0) scratch_ = at::empty({static_cast<int64_t>(scratch_bytes_)}, dev);
    if (policy_.stream && ring_bytes_ > 0) {
        // Host ring; pinned when the blocks go on to a GPU, so the upload can be asynchronous.
        auto host = at::TensorOptions().dtype(at::kByte).pinned_memory(policy_.device.is_cuda());
        for (auto& s : slots_) s.buffer = at::empty({static_cast<int64_t>(ring_bytes_)}, host);
        if (policy_.device.is_cuda()) {
            upload_ = tensor::AsyncUpload::create(policy_.device, 2);
            for (int k = 0; k < (upload_ ? 2 : 1); ++k) {
                device_raw_[k] = at::empty({static_cast<int64_t>(ring_bytes_)}, dev);
                device_ptr_[k] = device_raw_[k].data_ptr();
            }
        }
        reader_ = std::thread([this] { reader_loop(); });
    }
    laid_out_ = true;
}

at::Tensor BlockStore::view(const at::Tensor& buffer, uint64_t offset, at::ScalarType dtype,
                            const std::vector<int64_t>& shape) const {
    const int64_t bytes = static_cast<int64_t>(numel_of(shape) * c10::elementSize(dtype));
    return buffer.narrow(0, static_cast<int64_t>(offset), bytes).view(dtype).view(shape);
}

void BlockStore::read_into(int block, Slot& slot) {
    // Plain pointers only: this runs on the reader thread, outside the caller's InferenceMode.
    auto* base = static_cast<uint8_t*>(slot.buffer.data_ptr());
    for (const auto& it : blocks_[block].items) it.read(base + it.raw_offset);
}

void BlockStore::reader_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || requested_ >= 0; });
        if (stop_) return;
        const int block = requested_;
        requested_ = -1;
        // The slot to fill is the one not holding the block in use (acquire() chose it).
        const int index = slots_[0].block == block ? 0 : 1;
        Slot& slot = slots_[index];
        lock.unlock();
        std::exception_ptr error;
        double dt = 0;
        try {
            // The pinned buffer may still feed the previous upload out of it.
            if (upload_) upload_->wait_host_free(index);
            const auto t0 = std::chrono::steady_clock::now();
            read_into(block, slot);
            dt = seconds_since(t0);
            // Queued on the copy stream; it starts once compute has released the device slot.
            if (upload_) upload_->upload(index, slot.buffer.data_ptr(), device_ptr_[index], blocks_[block].raw_bytes);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        slot.error = error;
        slot.ready = true;
        stats_.read_s += dt;
        if (!error) {
            stats_.bytes_read += blocks_[block].raw_bytes;
            stats_.blocks_read += 1;
        }
        cv_.notify_all();
    }
}

void BlockStore::claim(int slot, int block) {
    // The previous block in this slot is done with (one lease at a time): on a GPU, mark that
    // point on the compute stream so the upload into the device slot waits for its kernels.
    if (upload_) upload_->release(slot);
    slots_[slot].block = block;
    slots_[slot].ready = false;
    slots_[slot].error = nullptr;
    requested_ = block;
    cv_.notify_all();
}

int BlockStore::wait_for(int block) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto t0 = std::chrono::steady_clock::now();
    auto in_flight = [&] {
        return requested_ >= 0 || (slots_[0].block >= 0 && !slots_[0].ready) || (slots_[1].block >= 0 && !slots_[1].ready);
    };
    int index = -1;
    for (int k = 0; k < 2; ++k)
        if (slots_[k].block == block) index = k;
    if (index < 0) {
        // Not read ahead (first use, or out of order): let any read finish, then read it now.
        cv_.wait(lock, [&] { return !in_flight(); });
        index = 0;
        claim(index, block);
    }
    Slot& slot = slots_[index];
    cv_.wait(lock, [&] { return slot.ready; });
    stats_.wait_s += seconds_since(t0);
    if (slot.error) {
        std::exception_ptr e = slot.error;
        slot.block = -1;
        slot.error = nullptr;
        std::rethrow_exception(e);
    }
    // Read the next block ahead into the other slot while this one computes.
    int next = block + 1;
    while (static_cast<size_t>(next) < blocks_.size() && blocks_[next].items.empty()) ++next;
    if (static_cast<size_t>(next) >= blocks_.size()) next = policy_.prefetch_wraps ? 0 : -1;
    while (next >= 0 && next != block && blocks_[next].items.empty()) ++next;
    if (next >= 0 && next != block && slots_[1 - index].block != next) claim(1 - index, next);
    return index;
}

std::shared_ptr<const BlockStore::Lease> BlockStore::acquire(int block) {
    CANTER_CHECK(has_block(block), Internal, "block store: no block " << block);
    CANTER_CHECK(current_.expired(), Internal, "block store: block " << block << " acquired while another is in use");
    if (!laid_out_) layout();
    auto lease = std::make_shared<Lease>();
    const Block& b = blocks_[block];
    at::Tensor raw_buffer;
    if (policy_.stream) {
        const int index = wait_for(block);
        raw_buffer = slots_[index].buffer;
        if (upload_) {
            // Uploaded on the copy stream by the reader; the compute stream waits on the GPU only.
            upload_->wait_uploaded(index);
            raw_buffer = device_raw_[index];
        } else if (policy_.device.is_cuda()) {
            // No copy stream (cannot happen in a CUDA build): a synchronous upload.
            device_raw_[0].narrow(0, 0, static_cast<int64_t>(b.raw_bytes))
                .copy_(raw_buffer.narrow(0, 0, static_cast<int64_t>(b.raw_bytes)));
            raw_buffer = device_raw_[0];
        }
    }
    for (const auto& it : b.items) {
        at::Tensor raw = policy_.stream ? view(raw_buffer, it.raw_offset, it.stored_dtype, it.shape) : it.stored;
        if (!it.converted) {
            lease->tensors_.emplace_back(it.key, raw);
            continue;
        }
        at::Tensor out = view(scratch_, it.scratch_offset, policy_.compute_dtype, it.shape);
        if (it.scale.defined()) {
            dequantize_into(out, raw, it.scale);
        } else {
            out.copy_(raw);
        }
        lease->tensors_.emplace_back(it.key, out);
    }
    current_ = lease;
    return lease;
}

StreamStats BlockStore::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    StreamStats s = stats_;
    if (upload_) {
        const auto u = upload_->stats();
        s.upload_bytes = u.bytes - upload_base_.bytes;
        s.upload_s = u.seconds - upload_base_.seconds;
        s.upload_stall_s = u.stall_seconds - upload_base_.stall_seconds;
    }
    return s;
}

void BlockStore::reset_stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_ = StreamStats{};
    if (upload_) upload_base_ = upload_->stats();
}

uint64_t BlockStore::held_bytes() const {
    uint64_t n = scratch_bytes_ + (policy_.stream ? 2 * ring_bytes_ : 0);
    for (const auto& d : device_raw_)
        if (d.defined()) n += ring_bytes_;
    for (const auto& b : blocks_)
        for (const auto& it : b.items) {
            if (it.stored.defined()) n += it.raw_bytes();
            if (it.scale.defined()) n += it.scale.numel() * 4;
        }
    return n;
}

}  // namespace canter::models
