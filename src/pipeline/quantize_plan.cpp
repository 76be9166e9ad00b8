// What `canter quantize` writes for one component: the model's own visitor names the block
// matrices (SpecCollector + WeightSpec::is_block_matrix), never a key-name pattern, so the
// quantized set is exactly what the loader's BlockStore keeps quantized.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>

#include "io/checkpoint.h"
#include "models/common/quantized_checkpoint.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "pipeline/quantize_model.h"
#include "util/check.h"

namespace canter::pipeline {

namespace fs = std::filesystem;

namespace {

// The keys T5GemmaEncoder::load lets stay unused: the decoder half of the encoder-decoder
// checkpoint (about half its bytes). canter never reads them, so the quantized copy drops
// them instead of carrying ~9 B unused parameters along.
const std::vector<std::string> kT5GemmaDecoderPrefixes = {"model.decoder.", "decoder.", "lm_head."};

bool is_floating(io::DType d) {
    return d == io::DType::kF64 || d == io::DType::kF32 || d == io::DType::kF16 || d == io::DType::kBF16;
}

bool has_prefix(const std::string& name, const std::vector<std::string>& prefixes) {
    for (const auto& p : prefixes)
        if (name.compare(0, p.size(), p) == 0) return true;
    return false;
}

// The files a checkpoint opened from `source` consists of: its shards and, for a sharded one,
// the index. The output's single model.safetensors replaces all of them.
std::set<std::string> input_files_of(const std::string& source, const io::Checkpoint& ck) {
    std::set<std::string> files;
    for (const auto& name : ck.names()) files.insert(fs::canonical(ck.file_of(name)).string());
    const fs::path s = source;
    if (fs::is_directory(s)) {
        for (const char* f : {"model.safetensors.index.json", "model.safetensors"})
            if (fs::exists(s / f)) files.insert(fs::canonical(s / f).string());
    } else {
        files.insert(fs::canonical(s).string());
    }
    return files;
}

void refuse_quantized(const std::string& role, const io::Checkpoint& ck) {
    const auto q = models::describe_quantization(ck);
    std::string why;
    if (!q.first_quantized.empty()) {
        why = "tensor '" + q.first_quantized + "' is " + io::dtype_name(ck.info(q.first_quantized).dtype) +
              " with a scale '" + models::scale_key(q.first_quantized) + "'";
    } else if (!q.metadata_format.empty()) {
        why = std::string("its safetensors metadata says ") + models::kQuantizationMetadataKey + " = " +
              q.metadata_format;
    } else {
        for (const auto& name : ck.names())
            if (models::is_scale_key(name)) {
                why = "it holds the scale tensor '" + name + "'";
                break;
            }
    }
    CANTER_CHECK(why.empty(), InvalidArgument,
                 role << ": " << ck.source() << " is already quantized (" << why
                      << "); quantize the original bf16/fp32 model instead");
}

QuantizePlan build_plan(const std::string& role, const std::string& source, const io::Checkpoint& ck,
                        const std::vector<models::WeightSpec>& specs, const std::vector<std::string>& drop_prefixes,
                        models::WeightFormat format, const std::string& output) {
    refuse_quantized(role, ck);
    QuantizePlan p;
    p.role = role;
    p.source = source;
    p.output = output;
    p.input_files = input_files_of(source, ck);

    // The output must load: every tensor the model requires is there with its shape, and every
    // block matrix is floating-point data to quantize. All problems are reported at once.
    std::vector<std::string> problems;
    std::set<std::string> expected;
    for (const auto& spec : specs) {
        expected.insert(spec.key);
        if (!ck.contains(spec.key)) {
            if (spec.required)
                problems.push_back("missing tensor '" + spec.key + "' (expected shape " + shape_str(spec.shape) + ")");
            continue;
        }
        const auto& info = ck.info(spec.key);
        if (info.shape != spec.shape) {
            problems.push_back("tensor '" + spec.key + "' in " + ck.file_of(spec.key) + " has shape " +
                               shape_str(info.shape) + ", expected " + shape_str(spec.shape));
        } else if (spec.is_block_matrix()) {
            if (is_floating(info.dtype)) p.block_matrices.insert(spec.key);
            else problems.push_back("block matrix '" + spec.key + "' in " + ck.file_of(spec.key) + " is " +
                                    io::dtype_name(info.dtype) + ", expected a floating-point dtype");
        }
    }
    if (!problems.empty()) {
        std::ostringstream os;
        os << role << ": " << ck.source() << ": weights do not match the model config (" << problems.size()
           << " problem" << (problems.size() == 1 ? "" : "s") << "), nothing written:";
        for (size_t i = 0; i < problems.size() && i < 40; ++i) os << "\n  - " << problems[i];
        if (problems.size() > 40) os << "\n  ... and " << problems.size() - 40 << " more";
        throw Error(ErrorCode::kInvalidArgument, os.str());
    }

    // Tensors the visitor does not name are carried over too (the loader judges them as it
    // would in the input), except the ones canter's loader ignores by design.
    const io::DType qtype = format == models::WeightFormat::kInt8 ? io::DType::kI8 : io::DType::kF8E4M3;
    for (const auto& name : ck.names()) {
        if (!expected.count(name) && has_prefix(name, drop_prefixes)) {
            p.dropped.push_back(name);
            continue;
        }
        const auto& info = ck.info(name);
        p.bytes_in += info.end - info.begin;
        if (p.block_matrices.count(name)) {
            p.entries.push_back({name, qtype, info.shape});
            p.entries.push_back({models::scale_key(name), io::DType::kF32, {info.shape[0]}});
        } else {
            p.entries.push_back({name, info.dtype, info.shape});
        }
    }
    std::set<std::string> files;
    for (const auto& name : ck.names()) files.insert(ck.file_of(name));
    for (const auto& f : files) {
        const auto file = io::SafetensorsFile::open(f);  // held: metadata() refers into it
        for (const auto& [k, v] : file->metadata()) p.metadata[k] = v;
    }
    p.metadata[models::kQuantizationMetadataKey] = models::weight_format_name(format);
    p.file_size = io::SafetensorsWriter::file_size(p.entries, p.metadata);
    return p;
}

// T5GemmaEncoder::load's choice of key prefix, repeated here: it lives in that loader's
// implementation file.
std::string t5gemma_prefix(const io::Checkpoint& ck) {
    for (const char* p : {"model.encoder.", "encoder."})
        if (ck.contains(std::string(p) + "embed_tokens.weight")) return p;
    return "model.encoder.";
}

}  // namespace

QuantizePlan plan_dit(const std::string& role, const std::string& source, const std::string& config_dir,
                      const nlohmann::json* arch, models::WeightFormat format, const std::string& output) {
    dit::DitConfig config = dit::DitConfig::from_model_dir(config_dir);
    if (arch && !arch->is_null()) config.apply(*arch);
    config.validate();
    models::SpecCollector specs;
    dit::DitWeights w;
    w.visit(specs, config, at::kBFloat16);
    const io::Checkpoint ck = io::Checkpoint::open(source);
    return build_plan(role, source, ck, specs.specs(), {}, format, output);
}

QuantizePlan plan_t5gemma(const std::string& role, const std::string& dir, models::WeightFormat format,
                          const std::string& output) {
    const auto config = t5gemma::T5GemmaConfig::from_model_dir(dir);
    const io::Checkpoint ck = io::Checkpoint::open(dir);
    models::SpecCollector specs;
    t5gemma::T5GemmaWeights w;
    w.visit(specs, config, t5gemma_prefix(ck), at::kBFloat16, at::kBFloat16);
    return build_plan(role, dir, ck, specs.specs(), kT5GemmaDecoderPrefixes, format, output);
}

}  // namespace canter::pipeline
