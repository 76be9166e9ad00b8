// `canter make-test-model` and `random:` models: a model folder with the exact key names,
// shapes, dtypes and folder layout of the released checkpoints, filled with deterministic
// random weights (each tensor a pure function of the seed and its key), so the full-size
// engine can be exercised without the real weights. Untrained: it generates noise.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace canter {

struct TestModelOptions {
    std::string preset = "magihuman-distill";  // see test_model_presets(); "tiny" for tests
    std::string format = "bf16";               // bf16 (as released) | int8 | fp8 (block matrices)
    std::vector<std::string> sr;               // SR DiTs to add: "540p", "1080p"
    uint64_t seed = 0;
    // Components larger than this are sharded (model-0000i-of-0000n.safetensors + index), as
    // the released checkpoints are.
    uint64_t max_shard_bytes = 5'000'000'000ull;
};

struct TestModelPart {
    std::string role;    // "dit.distill", "text_encoder", ...
    std::string folder;  // relative to the model folder
    int64_t parameters = 0;
    uint64_t bytes = 0;  // on disk, headers and config files included
    int files = 0;       // safetensors files
};

struct TestModelSummary {
    std::string preset, format;
    std::vector<TestModelPart> parts;
    int64_t parameters = 0;
    uint64_t bytes = 0;  // every file of the folder (the tokenizer's ~10 KB estimated)
    std::string table() const;  // one line per part plus the total, for --dry-run and logs
};

std::vector<std::string> test_model_presets();

// Validates the options and computes every file's exact size; writes nothing. Throws
// InvalidArgument naming the bad preset / format / SR resolution.
TestModelSummary plan_test_model(const TestModelOptions& options);

// Writes the model into `out_dir` (absent or empty), canter.json last. Before writing anything
// it checks the free space of the folder's filesystem against the summary's total (kIO error
// naming the folder, the bytes needed and free). Progress lines go to `log`. On failure the
// files written so far are removed.
TestModelSummary make_test_model(const TestModelOptions& options, const std::string& out_dir, std::ostream& log);

// "30.64 GB (28.54 GiB)"
std::string format_bytes(uint64_t bytes);

}  // namespace canter
