#include "server/store/files.h"

#include <filesystem>
#include <fstream>

#include "util/check.h"

namespace fs = std::filesystem;

namespace canter::server {

bool is_valid_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
    return true;
}

JobFiles::JobFiles(std::string data_dir) : data_dir_(std::move(data_dir)) {
    fs::create_directories(fs::path(data_dir_) / "jobs");
}

std::string JobFiles::job_dir(const std::string& id) const {
    CANTER_CHECK(is_valid_id(id), InvalidArgument, "invalid job id '" << id.substr(0, 80) << "'");
    return (fs::path(data_dir_) / "jobs" / id).string();
}

void JobFiles::write(const std::string& id, const std::string& name, const std::string& bytes) const {
    CANTER_CHECK(is_valid_id(name.substr(0, name.find('.'))) && name.find('/') == std::string::npos, Internal,
                 "bad job file name '" << name << "'");
    const fs::path dir = job_dir(id);
    fs::create_directories(dir);
    const fs::path tmp = dir / (name + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        CANTER_CHECK(out.good(), IO, "cannot write " << tmp.string());
    }
    fs::rename(tmp, dir / name);
}

void JobFiles::remove(const std::string& id) const {
    std::error_code ec;
    fs::remove_all(job_dir(id), ec);
}

}  // namespace canter::server
