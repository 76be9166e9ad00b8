// Internals of `canter quantize` (public entry: include/canter/quantize.h): the plan of what
// each quantized component's output file holds, and a hook for the free-space check (tests).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "canter/quantize.h"
#include "io/safetensors.h"
#include "models/common/quantize.h"

namespace canter::pipeline {

// One component whose weights are rewritten: which tensors of its checkpoint become which
// entries of the one output file.
struct QuantizePlan {
    std::string role;
    std::string source;                  // what io::Checkpoint::open was given
    std::set<std::string> input_files;   // canonical paths replaced by the output (shards + index)
    std::string output;                  // relative to OUT_DIR
    std::set<std::string> block_matrices;  // keys stored quantized (from the model's visitor)
    std::vector<std::string> dropped;      // keys left out
    std::vector<io::SafetensorsWriter::Entry> entries;  // in write order
    std::map<std::string, std::string> metadata;
    uint64_t bytes_in = 0;
    uint64_t file_size = 0;  // SafetensorsWriter::file_size of entries + metadata
};

// The plan for a DiT checkpoint `source` with its architecture `config_dir`/`arch`, and for a
// T5Gemma folder. Throw naming the tensor on a missing/wrong-shaped block matrix or an
// already-quantized checkpoint.
QuantizePlan plan_dit(const std::string& role, const std::string& source, const std::string& config_dir,
                      const nlohmann::json* arch, models::WeightFormat format, const std::string& output);
QuantizePlan plan_t5gemma(const std::string& role, const std::string& dir, models::WeightFormat format,
                          const std::string& output);

struct QuantizeHooks {
    // Free bytes on the filesystem holding `dir` (default: statvfs f_bavail * f_frsize).
    std::function<uint64_t(const std::string& dir)> free_bytes;
};

QuantizeReport quantize_model_folder(const QuantizeRequest& request,
                                     const std::function<void(const std::string&)>& progress,
                                     const QuantizeHooks& hooks);

}  // namespace canter::pipeline
