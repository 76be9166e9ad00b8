#include "server/store/data_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/check.h"

namespace canter::server {

DataDirLock::DataDirLock(const std::string& data_dir) {
    const std::string path = data_dir + "/serve.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CANTER_CHECK(fd_ >= 0, IO, "cannot open " << path << ": " << std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {0};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        ::close(fd_);
        fd_ = -1;
        const std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
        CANTER_CHECK(err != EWOULDBLOCK, IO,
                     "data folder " << data_dir << " is in use by another canter serve (pid "
                                    << holder.substr(0, holder.find_first_of("\n ")) << "; lock " << path
                                    << "): one server per data folder");
        CANTER_THROW(IO, "cannot lock " << path << ": " << std::strerror(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        // The lock holds without the pid; only the message of a second server gets less precise.
    }
}

DataDirLock::~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace canter::server
