// Atomic file output: everything is written to a temporary sibling of the target (same folder,
// so the final rename cannot cross file systems) and renamed over the target on success. The
// temporary is removed if commit() is never reached (error or exception), so a failed write
// leaves neither a partial file nor a stray temporary behind.
#pragma once

#include <string>

namespace canter::media {

class AtomicOutput {
public:
    // Checks that the target's folder exists and that the target is not a folder; throws
    // canter::Error kIO naming `path` otherwise. Nothing is created yet.
    explicit AtomicOutput(const std::string& path);
    ~AtomicOutput();  // removes the temporary unless committed
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;

    const std::string& path() const { return path_; }
    // ".<name>.tmp-<pid>-<n>" in the target's folder.
    const std::string& temp_path() const { return temp_path_; }

    // Renames the temporary over the target (replacing an existing file). Throws kIO.
    void commit();

private:
    std::string path_;
    std::string temp_path_;
    bool committed_ = false;
};

// Writes `bytes` to `path` atomically through AtomicOutput. Throws kIO naming the path.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace canter::media
