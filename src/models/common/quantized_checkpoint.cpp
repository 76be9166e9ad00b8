#include "models/common/quantized_checkpoint.h"

#include <cctype>
#include <set>
#include <sstream>

#include "io/checkpoint.h"
#include "models/common/quantize.h"

namespace canter::models {

std::string short_dtype_name(io::DType dtype) {
    switch (dtype) {
        case io::DType::kF64: return "fp64";
        case io::DType::kF32: return "fp32";
        case io::DType::kF16: return "fp16";
        case io::DType::kBF16: return "bf16";
        case io::DType::kF8E4M3: return "fp8_e4m3";
        default: break;
    }
    std::string s = io::dtype_name(dtype);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;  // i64, i32, i8, u8, bool
}

CheckpointQuantization describe_quantization(const io::Checkpoint& checkpoint) {
    CheckpointQuantization q;
    std::set<std::string> scales;
    for (const auto& name : checkpoint.names()) {
        const auto dtype = checkpoint.info(name).dtype;
        const bool quantized = (dtype == io::DType::kI8 || dtype == io::DType::kF8E4M3) &&
                               checkpoint.contains(scale_key(name));
        if (!quantized) continue;
        (dtype == io::DType::kI8 ? q.int8_matrices : q.fp8_matrices)++;
        if (q.first_quantized.empty()) q.first_quantized = name;
        scales.insert(scale_key(name));
    }
    for (const auto& name : checkpoint.names()) {
        const auto dtype = checkpoint.info(name).dtype;
        const bool quantized = (dtype == io::DType::kI8 || dtype == io::DType::kF8E4M3) &&
                               checkpoint.contains(scale_key(name));
        if (!quantized && !scales.count(name)) q.others[dtype]++;
    }
    // Every shard of a quantized checkpoint carries the key; any one is enough to say so.
    std::set<std::string> files;
    for (const auto& name : checkpoint.names()) files.insert(checkpoint.file_of(name));
    for (const auto& f : files) {
        const auto file = io::SafetensorsFile::open(f);  // held: metadata() refers into it
        auto it = file->metadata().find(kQuantizationMetadataKey);
        if (it != file->metadata().end()) q.metadata_format = it->second;
    }
    return q;
}

std::string CheckpointQuantization::summary() const {
    std::ostringstream os;
    auto list_others = [&] {
        bool first = true;
        for (const auto& [dtype, n] : others) {
            os << (first ? "" : " + ") << short_dtype_name(dtype);
            if (others.size() > 1) os << " (" << n << ")";
            first = false;
        }
    };
    if (int8_matrices + fp8_matrices == 0) {
        if (!metadata_format.empty()) os << "marked " << metadata_format << " but no quantized tensors; ";
        else os << "not quantized: ";
        list_others();
        int n = 0;
        for (const auto& [dtype, count] : others) n += count;
        if (others.size() == 1) os << " (" << n << " tensors)";
        return os.str();
    }
    if (int8_matrices) os << "int8 per-channel (" << int8_matrices << " block matrices)";
    if (int8_matrices && fp8_matrices) os << " + ";
    if (fp8_matrices) os << "fp8 e4m3 per-channel (" << fp8_matrices << " block matrices)";
    if (!others.empty()) {
        os << ", ";
        list_others();
        os << " otherwise";
    }
    return os.str();
}

}  // namespace canter::models
