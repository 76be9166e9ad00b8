#include "io/media/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/check.h"

namespace canter::media {

namespace fs = std::filesystem;

AtomicOutput::AtomicOutput(const std::string& path) : path_(path) {
    CANTER_CHECK(!path.empty(), InvalidArgument, "output path is empty");
    const fs::path target(path);
    CANTER_CHECK(target.has_filename(), IO, "cannot write '" << path << "': not a file name");
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    CANTER_CHECK(fs::is_directory(folder, ec), IO,
                 "cannot write '" << path << "': folder '" << folder.string() << "' does not exist");
    CANTER_CHECK(!fs::is_directory(target, ec), IO, "cannot write '" << path << "': it is a folder");
    static std::atomic<unsigned> counter{0};
    temp_path_ = (folder / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                            "-" + std::to_string(counter++)))
                     .string();
}

AtomicOutput::~AtomicOutput() {
    if (!committed_) ::unlink(temp_path_.c_str());  // may not exist; nothing to report
}

void AtomicOutput::commit() {
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
        const int err = errno;
        CANTER_THROW(IO, "cannot move '" << temp_path_ << "' to '" << path_ << "': " << std::strerror(err));
    }
    committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    AtomicOutput out(path);
    FILE* f = std::fopen(out.temp_path().c_str(), "wb");
    if (!f) {
        const int err = errno;
        CANTER_THROW(IO, "cannot write '" << path << "': " << std::strerror(err));
    }
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
    const int write_err = written == bytes.size() ? 0 : errno;
    if (std::fclose(f) != 0 && write_err == 0) {
        const int err = errno;
        CANTER_THROW(IO, "cannot write '" << path << "': " << std::strerror(err));
    }
    CANTER_CHECK(write_err == 0, IO, "cannot write '" << path << "': " << std::strerror(write_err));
    out.commit();
}

}  // namespace canter::media
