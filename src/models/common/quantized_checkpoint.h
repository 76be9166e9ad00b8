// What a checkpoint holds in terms of quantization (`canter inspect`, and `canter quantize`
// refusing an already-quantized input): the quantized tensors are found from the file itself
// (an I8 / F8_E4M3 tensor `K` with a `K_scale` beside it, the layout of models/common/quantize.h),
// not from a model's visitor, so any safetensors file can be described.
#pragma once

#include <map>
#include <string>

#include "io/safetensors.h"

namespace canter::io {
class Checkpoint;
}

namespace canter::models {

// safetensors `__metadata__` key canter quantize writes ("int8" | "fp8").
constexpr const char* kQuantizationMetadataKey = "canter_quantization";

struct CheckpointQuantization {
    int int8_matrices = 0;  // I8 tensors with a scale
    int fp8_matrices = 0;   // F8_E4M3 tensors with a scale
    std::string first_quantized;  // the first (sorted) quantized tensor, for messages
    std::string metadata_format;  // the kQuantizationMetadataKey value of any file, "" if none
    std::map<io::DType, int> others;  // every other tensor (scales excluded) by dtype

    bool quantized() const { return int8_matrices + fp8_matrices > 0 || !metadata_format.empty(); }
    // "int8 per-channel (160 block matrices), bf16 otherwise" / "not quantized: bf16 (172 tensors)"
    std::string summary() const;
};

CheckpointQuantization describe_quantization(const io::Checkpoint& checkpoint);

// Short lower-case dtype names for summaries: "bf16", "fp32", "int8", "fp8_e4m3", ...
std::string short_dtype_name(io::DType dtype);

}  // namespace canter::models
