#include "models/common/weights.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "io/checkpoint.h"
#include "models/common/block_store.h"
#include "models/common/quantize.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::models {

int64_t WeightSpec::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

void SpecCollector::visit(const std::string& key, at::Tensor&, const std::vector<int64_t>& shape,
                          at::ScalarType dtype, bool required) {
    specs_.push_back(WeightSpec{key, shape, dtype, required, block()});
}

int64_t SpecCollector::parameter_count(bool include_optional) const {
    int64_t n = 0;
    for (const auto& s : specs_)
        if (s.required || include_optional) n += s.numel();
    return n;
}

int64_t SpecCollector::byte_count() const {
    int64_t n = 0;
    for (const auto& s : specs_) n += s.numel() * static_cast<int64_t>(c10::elementSize(s.dtype));
    return n;
}

CheckpointBinder::CheckpointBinder(const io::Checkpoint& checkpoint, c10::Device device, BlockStore* blocks)
    : checkpoint_(checkpoint), device_(device), blocks_(blocks) {}

at::Tensor CheckpointBinder::scale_for(const std::string& key, int64_t rows) {
    const std::string sk = scale_key(key);
    const auto& info = checkpoint_.info(key);
    if (!checkpoint_.contains(sk)) {
        problems_.push_back("quantized tensor '" + key + "' (" + io::dtype_name(info.dtype) + ") in " +
                            checkpoint_.file_of(key) + " has no scale tensor '" + sk + "'");
        return {};
    }
    used_.insert(sk);
    const auto& s = checkpoint_.info(sk);
    if (s.dtype != io::DType::kF32 || s.shape != std::vector<int64_t>{rows}) {
        problems_.push_back("scale tensor '" + sk + "' in " + checkpoint_.file_of(sk) + " is " +
                            io::dtype_name(s.dtype) + " " + shape_str(s.shape) + ", expected F32 [" +
                            std::to_string(rows) + "] (one scale per row of '" + key + "')");
        return {};
    }
    return checkpoint_.tensor(sk).to(device_);
}

void CheckpointBinder::visit(const std::string& key, at::Tensor& slot,
                             const std::vector<int64_t>& shape, at::ScalarType dtype,
                             bool required) {
    if (!checkpoint_.contains(key)) {
        if (required) problems_.push_back("missing tensor '" + key + "' (expected shape " +
                                          shape_str(shape) + ")");
        return;
    }
    used_.insert(key);
    const auto& info = checkpoint_.info(key);
    if (info.shape != shape) {
        problems_.push_back("tensor '" + key + "' in " + checkpoint_.file_of(key) +
                            " has shape " + shape_str(info.shape) + ", expected " +
                            shape_str(shape));
        return;
    }
    const at::ScalarType stored = io::aten_dtype(info.dtype);
    const bool quantized = at::isFloatingType(dtype) && is_quantized_dtype(stored) && shape.size() == 2;
    if (at::isFloatingType(dtype) && !quantized && !at::isFloatingType(stored)) {
        problems_.push_back("tensor '" + key + "' in " + checkpoint_.file_of(key) + " has dtype " +
                            io::dtype_name(info.dtype) + ", expected a floating-point dtype");
        return;
    }
    at::Tensor scale;
    if (quantized) {
        scale = scale_for(key, shape[0]);
        if (!scale.defined()) return;
    }
    if (blocks_ && block() >= 0 && shape.size() == 2 && at::isFloatingType(dtype)) {
        const StoragePolicy& policy = blocks_->policy();
        if (policy.stream) {
            blocks_->add_streamed(block(), key, shape, stored, checkpoint_.reader(key), scale);
        } else if (!quantized && c10::elementSize(policy.compute_dtype) <= c10::elementSize(stored)) {
            // The file's bytes (zero-copy on the CPU), or narrowed once at load (an fp32 file
            // computed in bf16): never more memory than the file.
            slot = checkpoint_.tensor(key).to(device_, policy.compute_dtype);
        } else {
            // Kept as stored; widened (or dequantized) one layer at a time per use.
            blocks_->add_resident(block(), key, checkpoint_.tensor(key).to(device_), scale);
        }
        return;
    }
    at::Tensor t = checkpoint_.tensor(key);
    if (quantized) {
        slot = dequantize(t.to(device_), scale, dtype);
        return;
    }
    // Same dtype on CPU stays a zero-copy view of the mapping.
    slot = t.to(device_, dtype);
}

void CheckpointBinder::finish(const std::vector<std::string>& ignored_prefixes) {
    std::vector<std::string> unexpected;
    for (const auto& name : checkpoint_.names()) {
        if (used_.count(name)) continue;
        bool ignored = false;
        for (const auto& p : ignored_prefixes)
            if (name.compare(0, p.size(), p) == 0) ignored = true;
        if (!ignored) unexpected.push_back(name);
    }
    for (const auto& name : unexpected)
        problems_.push_back("unexpected tensor '" + name + "' (shape " +
                            shape_str(checkpoint_.info(name).shape) + ") in " +
                            checkpoint_.file_of(name));
    if (problems_.empty()) return;
    std::ostringstream os;
    os << checkpoint_.source() << ": weights do not match the model config (" << problems_.size()
       << " problem" << (problems_.size() == 1 ? "" : "s") << "):";
    const size_t kShown = 40;
    for (size_t i = 0; i < problems_.size() && i < kShown; ++i) os << "\n  - " << problems_[i];
    if (problems_.size() > kShown) os << "\n  ... and " << problems_.size() - kShown << " more";
    throw Error(ErrorCode::kInvalidArgument, os.str());
}

void TensorCollector::visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>&,
                            at::ScalarType, bool required) {
    if (!slot.defined()) {
        CANTER_CHECK(!required, Internal, "weight '" << key << "' has no value to save");
        return;
    }
    tensors_[key] = slot;
}

void Bf16Rounder::visit(const std::string&, at::Tensor& slot, const std::vector<int64_t>&, at::ScalarType, bool) {
    if (slot.defined()) slot = tensor::round_bf16(slot);
}

RandomFiller::RandomFiller(uint64_t seed) : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

void RandomFiller::visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
                         at::ScalarType dtype, bool) {
    auto ends_with = [&](const std::string& suffix) {
        return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    const auto options = at::TensorOptions().dtype(at::kFloat);
    at::Tensor t;
    if (ends_with("bias") || ends_with(".alpha") || ends_with(".beta")) {
        t = at::zeros(shape, options);
    } else if (shape.size() >= 2 && !ends_with("weight_g")) {
        int64_t fan_in = 1;
        for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
        t = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1))), shape, generator_,
                       options);
    } else {
        t = at::ones(shape, options);
    }
    slot = t.to(dtype);
}

}  // namespace canter::models
