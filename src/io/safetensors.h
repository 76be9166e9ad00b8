// safetensors reader (memory-mapped, zero-copy where alignment allows) and writer.
// Format: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {str: str}},
// then the data section; offsets are relative to the start of the data section.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <fstream>  // kept: includers rely on it
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace canter::io {

class MappedFile;

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kF8E4M3 };

const char* dtype_name(DType dtype);  // the safetensors spelling: "F32", "BF16", ...
size_t dtype_size(DType dtype);

struct TensorInfo {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // absolute file offsets
    uint64_t end = 0;
    int64_t numel() const;
};

// Largest header we accept: real checkpoints have < 1 MB of JSON; anything near this
// is a corrupt length field, and we must not allocate for it.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

class SafetensorsFile {
public:
    // Maps `path` and validates the whole header (dtypes, shapes vs. byte sizes, offsets in
    // range, no overlaps). Throws canter::Error naming the file and tensor on any problem.
    static std::shared_ptr<SafetensorsFile> open(const std::string& path);

    const std::string& path() const;
    const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
    const TensorInfo* find(const std::string& name) const;
    bool contains(const std::string& name) const { return find(name) != nullptr; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // CPU tensor with the file's dtype and shape (F8_E4M3 as at::kFloat8_e4m3fn). Zero-copy
    // (shares the mapping) when the data is aligned for its element type.
    at::Tensor tensor(const std::string& name) const;
    at::Tensor tensor(const TensorInfo& info) const;
    // The raw bytes of `info` into `dst` (pread: not through the mapping, see MappedFile::read).
    void read(const TensorInfo& info, void* dst) const;
    // Drops the mapped pages of `info` from the resident set (they are re-read on next use).
    void release(const TensorInfo& info) const;

private:
    std::shared_ptr<MappedFile> file_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// Writes one safetensors file tensor by tensor, so a file far larger than memory can be made
// (make-test-model, quantize): the header is fixed up front from `entries`, then write() takes
// the tensors in exactly that order. The file appears at `path` (renamed from a temporary in
// the same folder) only in finish(); destroying an unfinished writer removes the temporary.
class SafetensorsWriter {
public:
    struct Entry {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
    };
    SafetensorsWriter(const std::string& path, std::vector<Entry> entries,
                      const std::map<std::string, std::string>& metadata = {});
    // Writes into `fd` (already open for writing, positioned at the start; not closed here),
    // e.g. an anonymous memory file: no temporary and no rename. `label` names the file in
    // errors. An unfinished writer leaves whatever it wrote; the caller owns the fd.
    SafetensorsWriter(int fd, const std::string& label, std::vector<Entry> entries,
                      const std::map<std::string, std::string>& metadata = {});
    ~SafetensorsWriter();
    SafetensorsWriter(const SafetensorsWriter&) = delete;
    SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

    void write(const std::string& name, const at::Tensor& tensor);
    // Streams one tensor in pieces: `part` holds the next rows (leading-dimension slices) of
    // entry `name`, which completes once all its rows are written. write() is one whole part.
    void write_part(const std::string& name, const at::Tensor& part);
    void finish();
    // Bytes the finished file will have (disk-space checks before writing anything).
    static uint64_t file_size(const std::vector<Entry>& entries, const std::map<std::string, std::string>& metadata = {});

private:
    void start(const std::map<std::string, std::string>& metadata);
    void write_bytes(const void* data, size_t n);
    void fail(const std::string& what);
    std::string path_, tmp_;  // tmp_ empty: writing into a caller's fd
    std::vector<Entry> entries_;
    size_t next_ = 0;
    uint64_t written_of_next_ = 0;  // bytes of entries_[next_] already written
    int fd_ = -1;
    bool owns_fd_ = false;
    bool finished_ = false;
};

// The ATen dtype a safetensors dtype is read as (F8_E4M3: at::kFloat8_e4m3fn).
at::ScalarType aten_dtype(DType dtype);
// The safetensors dtype of an ATen dtype; throws Unsupported naming `name` for others.
DType dtype_of(at::ScalarType type, const std::string& name);

// Writes tensors (any device, contiguous or not) to `path` atomically: a temporary file in
// the same folder is renamed over `path` only once fully written.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace canter::io
