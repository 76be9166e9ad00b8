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

private:
    MappedFile() = default;
    std::string path_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace canter::io
