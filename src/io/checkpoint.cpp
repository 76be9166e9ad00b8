#include "io/checkpoint.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "util/check.h"

namespace canter::io {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& path) {
    Checkpoint ck;
    ck.source_ = path;
    std::error_code ec;
    std::string index_path, single_path;
    if (fs::is_directory(path, ec)) {
        fs::path dir(path);
        if (fs::exists(dir / "model.safetensors.index.json")) {
            index_path = (dir / "model.safetensors.index.json").string();
        } else if (fs::exists(dir / "model.safetensors")) {
            single_path = (dir / "model.safetensors").string();
        } else {
            CANTER_THROW(NotFound, path << ": directory has neither model.safetensors.index.json "
                                           "nor model.safetensors");
        }
    } else if (ends_with(path, ".index.json")) {
        index_path = path;
    } else {
        single_path = path;
    }

    if (!single_path.empty()) {
        auto file = SafetensorsFile::open(single_path);
        for (const auto& t : file->tensors()) ck.entries_[t.name] = Entry{file, &t};
        return ck;
    }

    std::ifstream in(index_path);
    CANTER_CHECK(in.good(), NotFound, index_path << ": cannot open index file");
    nlohmann::json index;
    try {
        in >> index;
    } catch (const nlohmann::json::exception& e) {
        CANTER_THROW(Corruption, index_path << ": malformed JSON: " << e.what());
    }
    CANTER_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
                 Corruption, index_path << ": missing object 'weight_map'");
    const fs::path dir = fs::path(index_path).parent_path();
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
        CANTER_CHECK(it.value().is_string(), Corruption,
                     index_path << ": weight_map entry '" << it.key() << "' is not a file name");
        const std::string shard_name = it.value().get<std::string>();
        CANTER_CHECK(shard_name.find("..") == std::string::npos && !shard_name.empty() &&
                         shard_name[0] != '/',
                     Corruption, index_path << ": weight_map entry '" << it.key()
                                            << "' names a file outside the checkpoint folder: '"
                                            << shard_name << "'");
        auto& shard = shards[shard_name];
        if (!shard) shard = SafetensorsFile::open((dir / shard_name).string());
        const TensorInfo* info = shard->find(it.key());
        CANTER_CHECK(info, NotFound,
                     shard->path() << ": tensor '" << it.key()
                                   << "' is listed in " << index_path << " but not in the shard");
        ck.entries_[it.key()] = Entry{shard, info};
    }
    return ck;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [name, e] : entries_) out.push_back(name);
    return out;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
    auto it = entries_.find(name);
    CANTER_CHECK(it != entries_.end(), NotFound, source_ << ": no tensor named '" << name << "'");
    return *it->second.info;
}

const std::string& Checkpoint::file_of(const std::string& name) const {
    auto it = entries_.find(name);
    CANTER_CHECK(it != entries_.end(), NotFound, source_ << ": no tensor named '" << name << "'");
    return it->second.file->path();
}

at::Tensor Checkpoint::tensor(const std::string& name) const {
    auto it = entries_.find(name);
    CANTER_CHECK(it != entries_.end(), NotFound, source_ << ": no tensor named '" << name << "'");
    return it->second.file->tensor(*it->second.info);
}

std::function<void(void*)> Checkpoint::reader(const std::string& name) const {
    auto it = entries_.find(name);
    CANTER_CHECK(it != entries_.end(), NotFound, source_ << ": no tensor named '" << name << "'");
    std::shared_ptr<SafetensorsFile> file = it->second.file;
    const TensorInfo* info = it->second.info;  // owned by `file`
    return [file, info](void* dst) { file->read(*info, dst); };
}

}  // namespace canter::io
