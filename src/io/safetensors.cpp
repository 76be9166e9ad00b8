#include "io/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "io/mapped_file.h"
#include "util/check.h"

namespace canter::io {

namespace {

struct DTypeEntry {
    DType dtype;
    const char* name;
    size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8},  {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},  {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1}, {DType::kF8E4M3, "F8_E4M3", 1},
};

bool parse_dtype(const std::string& s, DType* out) {
    for (const auto& e : kDTypes) {
        if (s == e.name) {
            *out = e.dtype;
            return true;
        }
    }
    return false;
}

at::ScalarType scalar_type(DType d) {
    switch (d) {
        case DType::kF64: return at::kDouble;
        case DType::kF32: return at::kFloat;
        case DType::kF16: return at::kHalf;
        case DType::kBF16: return at::kBFloat16;
        case DType::kI64: return at::kLong;
        case DType::kI32: return at::kInt;
        case DType::kI16: return at::kShort;
        case DType::kI8: return at::kChar;
        case DType::kU8: return at::kByte;
        case DType::kBool: return at::kBool;
        case DType::kF8E4M3: return at::kFloat8_e4m3fn;
    }
    return at::kFloat;
}

DType from_scalar_type(at::ScalarType t, const std::string& name) {
    switch (t) {
        case at::kDouble: return DType::kF64;
        case at::kFloat: return DType::kF32;
        case at::kHalf: return DType::kF16;
        case at::kBFloat16: return DType::kBF16;
        case at::kLong: return DType::kI64;
        case at::kInt: return DType::kI32;
        case at::kShort: return DType::kI16;
        case at::kChar: return DType::kI8;
        case at::kByte: return DType::kU8;
        case at::kBool: return DType::kBool;
        case at::kFloat8_e4m3fn: return DType::kF8E4M3;
        default: break;
    }
    CANTER_THROW(Unsupported, "tensor '" << name << "': dtype " << t
                                         << " cannot be written to safetensors");
}

}  // namespace

const char* dtype_name(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype) return e.name;
    return "?";
}

size_t dtype_size(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype) return e.size;
    return 0;
}

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

const std::string& SafetensorsFile::path() const { return file_->path(); }

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto st = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
    st->file_ = MappedFile::open(path);
    const uint64_t file_size = st->file_->size();
    CANTER_CHECK(file_size >= 8, Corruption,
                 path << ": truncated safetensors file (" << file_size
                      << " bytes, the 8-byte header length is missing)");
    uint64_t header_len = 0;
    std::memcpy(&header_len, st->file_->data(), 8);  // little-endian hosts only (x86, arm64)
    CANTER_CHECK(header_len <= kMaxHeaderBytes, Corruption,
                 path << ": safetensors header length " << header_len << " bytes exceeds the "
                      << kMaxHeaderBytes << "-byte limit (corrupt or not a safetensors file)");
    CANTER_CHECK(header_len <= file_size - 8, Corruption,
                 path << ": truncated safetensors file: header claims " << header_len
                      << " bytes but only " << file_size - 8 << " follow");
    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = file_size - data_start;

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(
            reinterpret_cast<const char*>(st->file_->data() + 8),
            reinterpret_cast<const char*>(st->file_->data() + data_start));
    } catch (const nlohmann::json::exception& e) {
        CANTER_THROW(Corruption, path << ": malformed safetensors header JSON: " << e.what());
    }
    CANTER_CHECK(header.is_object(), Corruption,
                 path << ": safetensors header is not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            CANTER_CHECK(v.is_object(), Corruption, path << ": __metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                CANTER_CHECK(m.value().is_string(), Corruption,
                             path << ": __metadata__ value '" << m.key() << "' is not a string");
                st->metadata_[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = path + ": tensor '" + name + "'";
        CANTER_CHECK(v.is_object(), Corruption, where << ": entry is not an object");
        CANTER_CHECK(v.contains("dtype") && v["dtype"].is_string(), Corruption,
                     where << ": missing or non-string 'dtype'");
        CANTER_CHECK(v.contains("shape") && v["shape"].is_array(), Corruption,
                     where << ": missing or non-array 'shape'");
        CANTER_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() &&
                         v["data_offsets"].size() == 2,
                     Corruption, where << ": 'data_offsets' must be an array of two integers");
        TensorInfo info;
        info.name = name;
        const std::string dt = v["dtype"].get<std::string>();
        CANTER_CHECK(parse_dtype(dt, &info.dtype), Unsupported,
                     where << ": unknown dtype '" << dt << "'");
        // Byte count with overflow checks: a corrupt shape must not wrap around.
        unsigned __int128 bytes = dtype_size(info.dtype);
        for (const auto& d : v["shape"]) {
            CANTER_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                         Corruption, where << ": shape " << v["shape"].dump()
                                           << " has a non-integer or negative dimension");
            uint64_t dim = d.get<uint64_t>();
            CANTER_CHECK(dim <= (1ull << 48), Corruption,
                         where << ": shape dimension " << dim << " is implausibly large");
            info.shape.push_back(static_cast<int64_t>(dim));
            bytes *= dim;
            CANTER_CHECK(bytes <= (static_cast<unsigned __int128>(1) << 62), Corruption,
                         where << ": shape " << v["shape"].dump() << " overflows");
        }
        for (const auto& o : v["data_offsets"])
            CANTER_CHECK(o.is_number_unsigned() || (o.is_number_integer() && o.get<int64_t>() >= 0),
                         Corruption, where << ": data_offsets must be non-negative integers");
        uint64_t b = v["data_offsets"][0].get<uint64_t>();
        uint64_t e = v["data_offsets"][1].get<uint64_t>();
        CANTER_CHECK(b <= e, Corruption,
                     where << ": data_offsets [" << b << ", " << e << ") are reversed");
        CANTER_CHECK(e <= data_size, Corruption,
                     where << ": data_offsets [" << b << ", " << e << ") run past the end of the "
                           << data_size << "-byte data section (truncated file?)");
        CANTER_CHECK(bytes == e - b, Corruption,
                     where << ": dtype " << dt << " shape " << shape_str(info.shape) << " needs "
                           << static_cast<uint64_t>(bytes) << " bytes but data_offsets span "
                           << e - b);
        info.begin = data_start + b;
        info.end = data_start + e;
        st->tensors_.push_back(std::move(info));
    }

    // Overlap check over the byte ranges (empty tensors occupy nothing).
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : st->tensors_)
        if (t.end > t.begin) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        CANTER_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end, Corruption,
                     path << ": tensors '" << by_offset[i - 1]->name << "' and '"
                          << by_offset[i]->name << "' overlap in the data section");
    }

    std::sort(st->tensors_.begin(), st->tensors_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    for (size_t i = 0; i < st->tensors_.size(); ++i) st->index_[st->tensors_[i].name] = i;
    return st;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const TensorInfo* info = find(name);
    CANTER_CHECK(info, NotFound, path() << ": no tensor named '" << name << "'");
    return tensor(*info);
}

at::Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
    uint8_t* ptr = file_->mutable_data() + info.begin;
    auto options = at::TensorOptions().dtype(scalar_type(info.dtype));
    if (info.numel() == 0) return at::empty(info.shape, options);
    if (reinterpret_cast<uintptr_t>(ptr) % dtype_size(info.dtype) != 0) {
        // Misaligned data: ATen kernels assume natural alignment, so copy.
        at::Tensor out = at::empty(info.shape, options);
        std::memcpy(out.data_ptr(), ptr, info.end - info.begin);
        return out;
    }
    std::shared_ptr<MappedFile> keep = file_;
    return at::from_blob(
        ptr, info.shape, [keep](void*) mutable { keep.reset(); }, options);
}

DType dtype_of(at::ScalarType type, const std::string& name) { return from_scalar_type(type, name); }

at::ScalarType aten_dtype(DType dtype) { return scalar_type(dtype); }

void SafetensorsFile::read(const TensorInfo& info, void* dst) const {
    file_->read(info.begin, info.end - info.begin, dst);
}

void SafetensorsFile::release(const TensorInfo& info) const { file_->release(info.begin, info.end - info.begin); }

namespace {

// The header JSON (padded so the data section starts 8-byte aligned) and each entry's
// offsets, in the order given.
std::string header_json(const std::vector<SafetensorsWriter::Entry>& entries,
                        const std::map<std::string, std::string>& metadata, uint64_t* data_bytes) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& e : entries) {
        CANTER_CHECK(!header.contains(e.name), Internal, "safetensors writer: tensor '" << e.name << "' listed twice");
        uint64_t n = dtype_size(e.dtype);
        for (auto d : e.shape) n *= static_cast<uint64_t>(d);
        header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + n}}};
        offset += n;
    }
    std::string json = header.dump();
    while ((json.size() + 8) % 8 != 0) json.push_back(' ');
    *data_bytes = offset;
    return json;
}

}  // namespace

uint64_t SafetensorsWriter::file_size(const std::vector<Entry>& entries,
                                      const std::map<std::string, std::string>& metadata) {
    uint64_t data = 0;
    const std::string json = header_json(entries, metadata, &data);
    return 8 + json.size() + data;
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<Entry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())), entries_(std::move(entries)) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CANTER_CHECK(fd_ >= 0, IO, path_ << ": cannot open for writing (" << std::strerror(errno) << ")");
    owns_fd_ = true;
    start(metadata);
}

SafetensorsWriter::SafetensorsWriter(int fd, const std::string& label, std::vector<Entry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(label), entries_(std::move(entries)), fd_(fd) {
    CANTER_CHECK(fd_ >= 0, Internal, path_ << ": invalid file descriptor " << fd);
    start(metadata);
}

void SafetensorsWriter::start(const std::map<std::string, std::string>& metadata) {
    uint64_t data = 0;
    const std::string json = header_json(entries_, metadata, &data);
    const uint64_t len = json.size();
    write_bytes(&len, 8);
    write_bytes(json.data(), json.size());
}

SafetensorsWriter::~SafetensorsWriter() {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    if (!finished_ && !tmp_.empty()) std::remove(tmp_.c_str());
}

void SafetensorsWriter::fail(const std::string& what) {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) std::remove(tmp_.c_str());
    finished_ = true;  // nothing left to clean up
    CANTER_THROW(IO, path_ << ": " << what);
}

void SafetensorsWriter::write_bytes(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        // Linux writes at most ~2 GiB per call: loop over partial writes.
        const ssize_t k = ::write(fd_, p, std::min<size_t>(n, 1ull << 30));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) fail(std::string("write failed (") + (k < 0 ? std::strerror(errno) : "no progress") + "; disk full?)");
        p += k;
        n -= static_cast<size_t>(k);
    }
}

void SafetensorsWriter::write(const std::string& name, const at::Tensor& t) {
    CANTER_CHECK(!finished_ && next_ < entries_.size(), Internal,
                 path_ << ": tensor '" << name << "' written after the last one");
    const Entry& e = entries_[next_];
    CANTER_CHECK(written_of_next_ == 0, Internal,
                 path_ << ": tensor '" << name << "' written whole after a part of '" << e.name << "'");
    CANTER_CHECK(t.sizes().vec() == e.shape, Internal,
                 path_ << ": tensor '" << name << "' is " << t.scalar_type() << " " << shape_str(t.sizes().vec())
                       << ", the header says " << dtype_name(e.dtype) << " " << shape_str(e.shape));
    write_part(name, t);
}

void SafetensorsWriter::write_part(const std::string& name, const at::Tensor& t) {
    CANTER_CHECK(!finished_ && next_ < entries_.size(), Internal,
                 path_ << ": tensor '" << name << "' written after the last one");
    const Entry& e = entries_[next_];
    CANTER_CHECK(e.name == name, Internal,
                 path_ << ": tensor '" << name << "' written where '" << e.name << "' comes next");
    // A part is whole rows: same trailing dimensions (a 0-d or 1-d entry splits by elements).
    const auto sizes = t.sizes().vec();
    const bool rows_match = e.shape.empty() ? sizes.empty()
                                            : sizes.size() == e.shape.size() &&
                                                  std::equal(sizes.begin() + 1, sizes.end(), e.shape.begin() + 1);
    CANTER_CHECK(from_scalar_type(t.scalar_type(), name) == e.dtype && rows_match, Internal,
                 path_ << ": tensor '" << name << "' part is " << t.scalar_type() << " " << shape_str(sizes)
                       << ", the header says " << dtype_name(e.dtype) << " " << shape_str(e.shape));
    uint64_t total = dtype_size(e.dtype);
    for (auto d : e.shape) total *= static_cast<uint64_t>(d);
    const at::Tensor c = t.to(at::kCPU).contiguous();
    const uint64_t n = static_cast<uint64_t>(c.numel()) * c.element_size();
    CANTER_CHECK(written_of_next_ + n <= total, Internal,
                 path_ << ": tensor '" << name << "' gets " << written_of_next_ + n << " bytes, its header says "
                       << total);
    write_bytes(c.data_ptr(), n);
    written_of_next_ += n;
    if (written_of_next_ == total) {
        ++next_;
        written_of_next_ = 0;
    }
}

void SafetensorsWriter::finish() {
    CANTER_CHECK(!finished_ && next_ == entries_.size(), Internal,
                 path_ << ": finished after " << next_ << " of " << entries_.size() << " tensors");
    if (tmp_.empty()) {  // caller's fd: nothing to rename, the caller closes it
        finished_ = true;
        return;
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(std::string("write failed at close (") + std::strerror(errno) + ")");
    finished_ = true;
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        std::remove(tmp_.c_str());
        CANTER_THROW(IO, path_ << ": cannot rename temporary file into place");
    }
}

void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<SafetensorsWriter::Entry> entries;
    for (const auto& [name, t] : tensors)
        entries.push_back({name, from_scalar_type(t.scalar_type(), name), t.sizes().vec()});
    SafetensorsWriter writer(path, entries, metadata);
    for (const auto& [name, t] : tensors) writer.write(name, t);
    writer.finish();
}

}  // namespace canter::io
