// The files and tensors of a test model (include/canter/test_model.h): what to write, in what
// order and dtype, how each tensor's values are drawn, and the exact size of every file.
// test_model_writer.h writes a plan to disk or into memory.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "canter/test_model.h"
#include "io/safetensors.h"
#include "models/common/quantize.h"
#include "models/dit/dit_config.h"
#include "models/t5gemma/t5gemma_config.h"

namespace canter::pipeline {

// How a tensor's values are drawn (models/common/keyed_random.h for kNormal).
enum class TensorInit { kNormal, kZeros, kOnes };

struct WeightPlan {
    std::string key;
    std::vector<int64_t> shape;
    io::DType dtype;          // stored dtype of plain values (BF16 / F32)
    bool quantized = false;   // stored as `key` (I8 / F8_E4M3) + `key_scale` (F32 [rows])
    TensorInit init = TensorInit::kNormal;
    double stddev = 0;        // kNormal
    uint64_t stream = 0;      // keyed_stream(component seed, key)
    int64_t numel() const;
};

struct SafetensorsPlan {
    std::string path;  // relative to the model folder
    std::vector<WeightPlan> weights;
    std::vector<io::SafetensorsWriter::Entry> entries(models::WeightFormat format) const;
    uint64_t bytes = 0;  // exact file size
};

struct SmallFile {
    std::string path;  // relative to the model folder
    std::string content;
};

struct ComponentPlan {
    std::string role;
    std::string folder;
    int64_t parameters = 0;
    std::vector<SafetensorsPlan> files;
    std::vector<SmallFile> small;  // config.json, index json
    bool tokenizer = false;        // the demo tokenizer goes into `folder`
    uint64_t bytes() const;
};

struct ModelPlan {
    TestModelOptions options;
    models::WeightFormat format = models::WeightFormat::kAsStored;  // kAsStored = bf16
    std::vector<ComponentPlan> components;
    SmallFile manifest;  // canter.json, written last
    TestModelSummary summary() const;
};

// The distill DiT, the SR DiTs asked for, T5Gemma encoder + tokenizer, Wan2.2 encoder,
// TurboVAED, Stable Audio VAE and the manifest.
ModelPlan plan_model(const TestModelOptions& options);

// One DiT component alone (tests of a chosen architecture): `folder`/config.json holding `arch`
// when it is not null, and its weights, sharded past `max_shard_bytes`.
ComponentPlan plan_dit(const std::string& role, const std::string& folder, const dit::DitConfig& config,
                       const nlohmann::json& arch, models::WeightFormat format, uint64_t seed,
                       uint64_t max_shard_bytes);
// The T5Gemma encoder (`model.encoder.*` keys only) for a whole T5Gemma config.json.
ComponentPlan plan_t5gemma(const std::string& role, const std::string& folder, const nlohmann::json& config_json,
                           models::WeightFormat format, uint64_t seed, uint64_t max_shard_bytes);

// The `__metadata__` of every safetensors file written ({"format": "pt"}, as transformers writes).
const std::map<std::string, std::string>& test_model_metadata();

// Parses "bf16" | "int8" | "fp8" (kAsStored for bf16); throws naming `what` and the value.
models::WeightFormat parse_test_model_format(const std::string& value, const std::string& what);

}  // namespace canter::pipeline
