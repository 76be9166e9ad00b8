// A set of named tensors spread over one safetensors file or a sharded checkpoint
// (`*.safetensors.index.json` with a `weight_map` of name -> shard file).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace canter::io {

class Checkpoint {
public:
    // `path` may be a .safetensors file, a *.index.json file, or a directory holding
    // `model.safetensors.index.json` (preferred, as upstream) or `model.safetensors`.
    static Checkpoint open(const std::string& path);

    const std::string& source() const { return source_; }
    std::vector<std::string> names() const;  // sorted
    bool contains(const std::string& name) const { return entries_.count(name) != 0; }
    const TensorInfo& info(const std::string& name) const;
    const std::string& file_of(const std::string& name) const;
    at::Tensor tensor(const std::string& name) const;  // zero-copy where possible
    size_t size() const { return entries_.size(); }
    // Copies the raw bytes of `name` (info(name).end - begin of them) into a caller's buffer
    // with pread. The returned function keeps the file open on its own, so it outlives this
    // Checkpoint: block streaming reads weights through it, one layer at a time.
    std::function<void(void* dst)> reader(const std::string& name) const;

private:
    struct Entry {
        std::shared_ptr<SafetensorsFile> file;
        const TensorInfo* info;
    };
    std::string source_;
    std::map<std::string, Entry> entries_;
};

}  // namespace canter::io
