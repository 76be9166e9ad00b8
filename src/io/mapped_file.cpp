#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/check.h"

namespace canter::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) CANTER_THROW(NotFound, path << ": no such file");
        CANTER_THROW(IO, path << ": cannot open: " << std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        CANTER_THROW(IO, path << ": not a regular file");
    }
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->path_ = path;
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
        void* p = ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            CANTER_THROW(IO, path << ": mmap failed: " << std::strerror(err));
        }
        file->data_ = static_cast<uint8_t*>(p);
    }
    file->fd_ = fd;
    return file;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
}

void MappedFile::read(uint64_t offset, size_t n, void* dst) const {
    CANTER_CHECK(offset <= size_ && n <= size_ - offset, Internal,
                 path_ << ": read of " << n << " bytes at " << offset << " runs past the end");
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    while (done < n) {
        const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            const int err = errno;
            CANTER_THROW(IO, path_ << ": read failed at byte " << offset + done << ": "
                                   << (got == 0 ? "unexpected end of file" : std::strerror(err)));
        }
        done += static_cast<size_t>(got);
    }
}

void MappedFile::release(uint64_t offset, size_t n) const {
    if (!data_ || n == 0) return;
    // Only whole pages inside the range: a neighbouring tensor's page must stay.
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = (offset + page - 1) / page * page;
    const uint64_t end = (offset + n) / page * page;
    if (end > begin) ::madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

}  // namespace canter::io
