// Where a job's files live: DATA/jobs/<id>/{input.<ext>, output.mp4, meta.json}. Ids are checked
// against a strict pattern before they become paths, so no request can name a path outside.
#pragma once

#include <string>

namespace canter::server {

// True for ids this server issues: [A-Za-z0-9_-]{1,64}.
bool is_valid_id(const std::string& id);

class JobFiles {
public:
    explicit JobFiles(std::string data_dir);
    const std::string& data_dir() const { return data_dir_; }
    std::string job_dir(const std::string& id) const;  // throws on an invalid id
    std::string output_path(const std::string& id) const { return job_dir(id) + "/output.mp4"; }
    std::string meta_path(const std::string& id) const { return job_dir(id) + "/meta.json"; }
    // Writes `bytes` to job_dir/name atomically (temp + rename), creating the folder.
    void write(const std::string& id, const std::string& name, const std::string& bytes) const;
    void remove(const std::string& id) const;  // the whole job folder, if present

private:
    std::string data_dir_;
};

}  // namespace canter::server
