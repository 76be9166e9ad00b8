// Read-only view of a whole file through mmap (private mapping: a stray write
// touches a private copy of the page, never the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace canter::io {

class MappedFile {
public:
    // Throws canter::Error (NotFound / IO) naming `path`.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return path_; }
    const uint8_t* data() const { return data_; }
    uint8_t* mutable_data() const { return data_; }  // copy-on-write pages
    size_t size() const { return size_; }

    // Copies [offset, offset + n) into `dst` with pread, bypassing the mapping: streamed
    // weights land in the caller's buffer and the page cache, never in this process's
    // resident set. Throws naming the file on a short read.
    void read(uint64_t offset, size_t n, void* dst) const;
    // Drops the mapped pages of [offset, offset + n) from the resident set (madvise); the
    // data stays readable and is faulted in again from the file on the next access.
    void release(uint64_t offset, size_t n) const;

private:
    MappedFile() = default;
    std::string path_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    int fd_ = -1;  // kept open for read()
};

}  // namespace canter::io
