// One visitor walks every weights struct: the same list of (key, slot, shape, dtype)
// drives strict loading, the completeness test, parameter counting and `canter inspect`.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <ATen/core/Generator.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace canter::io {
class Checkpoint;
}

namespace canter::models {

class WeightVisitor {
public:
    virtual ~WeightVisitor() = default;
    // `shape` is what the config implies; `dtype` is how the model holds the tensor in memory
    // (the file may store another floating dtype: values are converted, as upstream's
    // load_state_dict does). Optional tensors are recomputable buffers.
    virtual void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
                       at::ScalarType dtype, bool required = true) = 0;
    // The tensors visited between begin_block(i) and end_block() belong to repeated block i
    // (a transformer layer). Its 2-D tensors are the model's "block matrices": the bulk of the
    // parameters, the ones a storage policy may keep quantized, convert per use or stream.
    void begin_block(int index) { block_ = index; }
    void end_block() { block_ = -1; }
    int block() const { return block_; }  // -1 outside blocks

private:
    int block_ = -1;
};

struct WeightSpec {
    std::string key;
    std::vector<int64_t> shape;
    at::ScalarType dtype;
    bool required;
    int block = -1;  // the repeated block it belongs to, -1 for none
    int64_t numel() const;
    bool is_block_matrix() const { return block >= 0 && shape.size() == 2; }
};

// Records the expected tensors without touching any data.
class SpecCollector : public WeightVisitor {
public:
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool required) override;
    const std::vector<WeightSpec>& specs() const { return specs_; }
    int64_t parameter_count(bool include_optional = false) const;
    int64_t byte_count() const;

private:
    std::vector<WeightSpec> specs_;
};

class BlockStore;

// Fills slots from a checkpoint. Collects every problem (missing key, wrong shape,
// non-floating data for a floating slot, a quantized tensor without a valid scale) and, in
// finish(), every key of the checkpoint no slot asked for; finish() then throws one error
// listing all of them. Quantized tensors (I8 or F8_E4M3 `K` with an F32 `K_scale` of shape
// [rows]) are dequantized at load, except block matrices handed to a BlockStore.
class CheckpointBinder : public WeightVisitor {
public:
    // With `blocks`, block matrices go through the store's policy (kept at file precision,
    // quantized or streamed) instead of being converted into their slot.
    CheckpointBinder(const io::Checkpoint& checkpoint, c10::Device device, BlockStore* blocks = nullptr);
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool required) override;
    // Keys starting with one of `ignored_prefixes` are allowed to stay unused
    // (e.g. the decoder half of an encoder-decoder checkpoint).
    void finish(const std::vector<std::string>& ignored_prefixes = {});

private:
    // The scale of quantized `key`, or an undefined tensor after recording why it is unusable.
    at::Tensor scale_for(const std::string& key, int64_t rows);

    const io::Checkpoint& checkpoint_;
    c10::Device device_;
    BlockStore* blocks_;
    std::set<std::string> used_;
    std::vector<std::string> problems_;
};

// Gathers the visited slots under their keys (saving a model, e.g. the demo model). Undefined
// optional slots are skipped; an undefined required slot is an internal error.
class TensorCollector : public WeightVisitor {
public:
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool required) override;
    const std::map<std::string, at::Tensor>& tensors() const { return tensors_; }

private:
    std::map<std::string, at::Tensor> tensors_;
};

// Rounds every defined slot to bf16 values in place (upstream casts these models to bf16; canter
// keeps the fp32 dtype and the bf16 values).
class Bf16Rounder : public WeightVisitor {
public:
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool required) override;
};

// Fills every slot with deterministic random values (models without their own random()):
// matrices/kernels N(0, 1/fan_in), `*bias` zeros, `*.alpha`/`*.beta` (log-scale Snake) zeros,
// everything else 1-like (norm gains, weight-norm magnitudes). Same seed => same values.
class RandomFiller : public WeightVisitor {
public:
    explicit RandomFiller(uint64_t seed);
    void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
               at::ScalarType dtype, bool required) override;

private:
    at::Generator generator_;
};

}  // namespace canter::models
