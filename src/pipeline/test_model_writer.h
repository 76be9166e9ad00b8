// Writes a test-model plan (test_model_plan.h) tensor by tensor: never more than one chunk
// (kChunkElements values) of a tensor in memory, whatever the model's size. Where the
// safetensors bytes go is the caller's: files on disk (make-test-model) or anonymous memory
// files (random: models).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "io/safetensors.h"
#include "pipeline/test_model_plan.h"

namespace canter::pipeline {

// Values generated per piece of a tensor (whole rows, at least one row): 64 MB of fp32.
constexpr int64_t kChunkElements = int64_t(1) << 24;

// Opens the writer of one planned safetensors file (entries and metadata already computed).
using SafetensorsOpener = std::function<std::unique_ptr<io::SafetensorsWriter>(
    const SafetensorsPlan& file, std::vector<io::SafetensorsWriter::Entry> entries)>;

// Every tensor of `file`, in order, through `writer`; finish() is the caller's.
void write_safetensors_plan(const SafetensorsPlan& file, models::WeightFormat format, io::SafetensorsWriter& writer);

// Small files (configs, index, tokenizer) under `dir` (created as needed), the safetensors
// through `open`, canter.json last. Progress to `log` (may be null).
void write_model_plan(const ModelPlan& plan, const std::string& dir, const SafetensorsOpener& open, std::ostream* log);

}  // namespace canter::pipeline
