// One `canter serve` per local data folder: two processes on one SQLite store would each
// "recover" the other's running jobs. The lock is an flock on DATA/serve.lock holding the
// holder's pid; the kernel drops it when the process dies, so a kill -9 never leaves it stale.
#pragma once

#include <string>

namespace canter::server {

class DataDirLock {
public:
    // Throws canter::Error (kIO) naming the folder and the holder's pid when it is taken.
    explicit DataDirLock(const std::string& data_dir);
    ~DataDirLock();
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace canter::server
