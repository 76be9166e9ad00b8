// `--model random:PRESET[:bf16|int8|fp8][:seed=N][:sr=540p,1080p]`: the model make-test-model
// would write with the same options, built in memory instead of on disk (GPU machines have
// small disks, notes/gpu.md). The small files (canter.json, configs, tokenizer) go to a
// temporary folder; each safetensors file is an anonymous memory file (memfd) that the folder
// names through a symlink to /proc/self/fd/N, so every loader (mmap, pread) works unchanged.
// The folder is removed at exit; the memory files vanish with the process.
#pragma once

#include <string>

#include "canter/test_model.h"

namespace canter::pipeline {

constexpr const char* kRandomModelPrefix = "random:";

bool is_random_model_spec(const std::string& model);

// Throws InvalidArgument naming the bad part (unknown preset, format, seed or SR list).
TestModelOptions parse_random_model_spec(const std::string& spec);

// The folder of the materialized model (its canter.json inside). The same spec twice in one
// process gives the same folder (built once). Throws OutOfMemory when the weights do not fit
// in the available memory (named: bytes needed and available), IO when a memory file fails.
std::string materialize_random_model(const std::string& spec);

}  // namespace canter::pipeline
