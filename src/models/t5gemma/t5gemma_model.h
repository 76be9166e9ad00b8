// The T5Gemma encoder (transformers `models/t5gemma/modeling_t5gemma.py`: T5GemmaEncoder,
// T5GemmaEncoderLayer, T5GemmaSelfAttention, T5GemmaMLP, T5GemmaRMSNorm,
// T5GemmaRotaryEmbedding), as MagiHuman runs it for text conditioning (spec encoders.md §4,
// golden README §4): scaled embedding -> num_hidden_layers bidirectional GQA layers with Gemma
// "sandwich" norms, RoPE and a gelu_tanh gated MLP -> final RMSNorm.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/common/block_store.h"
#include "models/common/footprint.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_config.h"

namespace canter::t5gemma {

// kSdpa: what transformers picks when no attn_implementation is given (upstream's call); the
// SDPA path ignores attn_logit_softcapping. kEager: scores pass through cap·tanh(s/cap).
enum class AttentionImpl { kSdpa, kEager };

struct T5GemmaOptions {
    // kFP32: every op in fp32 (matches the golden `fp32.*`). kBF16: upstream's numerics
    // (weights and activations bf16, norms/softmax/RoPE tables computed in fp32 and rounded),
    // emulated with fp32 GEMMs plus explicit bf16 roundings where the device lacks bf16 matmul.
    dit::Precision precision = dit::Precision::kFP32;
    AttentionImpl attention = AttentionImpl::kSdpa;
    c10::Device device = c10::Device(c10::kCPU);
    // Read the layers' matrices from the checkpoint one layer ahead instead of keeping them
    // (models/common/block_store.h). Only load() streams.
    bool stream_blocks = false;
};

// Observer for intermediates: ("embed_out", 0, [B,N,H]) and ("layer_out", i, [B,N,H]).
using T5GemmaTap = std::function<void(const std::string& name, int index, const at::Tensor&)>;

// Weights of one encoder layer, H = hidden, D = head_dim, I = intermediate.
struct T5GemmaLayerWeights {
    at::Tensor pre_self_attn_layernorm;    // [H]         (applied as 1 + w)
    at::Tensor post_self_attn_layernorm;   // [H]
    at::Tensor pre_feedforward_layernorm;  // [H]
    at::Tensor post_feedforward_layernorm; // [H]
    at::Tensor q_proj;                     // [Hq*D, H]   self_attn.q_proj.weight
    at::Tensor k_proj;                     // [Hkv*D, H]
    at::Tensor v_proj;                     // [Hkv*D, H]
    at::Tensor o_proj;                     // [H, Hq*D]
    at::Tensor gate_proj;                  // [I, H]      mlp.gate_proj.weight
    at::Tensor up_proj;                    // [I, H]
    at::Tensor down_proj;                  // [H, I]
};

struct T5GemmaWeights {
    at::Tensor embed_tokens;  // [V, H], kept in its stored dtype (only N rows are gathered)
    std::vector<T5GemmaLayerWeights> layers;
    at::Tensor norm;  // [H]

    // Every tensor under `prefix` + its key relative to the encoder ("layers.3.mlp.up_proj.weight").
    // Matrices are held in `matrix_dtype`, norms in fp32, the embedding in `embed_dtype`.
    void visit(models::WeightVisitor& v, const T5GemmaConfig& config, const std::string& prefix,
               at::ScalarType matrix_dtype, at::ScalarType embed_dtype);
    // The tensors of layer `i` alone (inside begin_block(i) / end_block()).
    static void visit_layer(models::WeightVisitor& v, const T5GemmaConfig& config, const std::string& prefix, int i,
                            T5GemmaLayerWeights& layer, at::ScalarType matrix_dtype);
};

class T5GemmaEncoder {
public:
    // `dir` holds config.json and model.safetensors (or model.safetensors.index.json shards).
    // Reads the keys under `model.encoder.` (or a prefix-less `encoder.` layout); ignores
    // `model.decoder.*`, `decoder.*` and `lm_head.*`. Strict: a missing, wrong-shaped or
    // unexpected key is an error naming the key.
    static T5GemmaEncoder load(const std::string& dir, const T5GemmaOptions& options);
    // Memory the encoder in `dir` needs resident or streamed with these options (nothing loaded).
    static models::Footprint footprint(const std::string& dir, const T5GemmaOptions& options);
    // Deterministic random weights (N(0, 1/fan_in) matrices and embedding, N(0, 0.1^2) norm
    // offsets), all bf16-representable: the demo model and tests.
    static T5GemmaEncoder random(const T5GemmaConfig& config, const T5GemmaOptions& options, uint64_t seed);
    // Writes config.json and model.safetensors (bf16, `model.encoder.*` keys) into `dir`
    // (created if needed); load(dir) reproduces this encoder.
    void save(const std::string& dir) const;

    const T5GemmaConfig& config() const { return config_; }
    const T5GemmaOptions& options() const { return options_; }
    const T5GemmaWeights& weights() const { return weights_; }

    // ids [B, N] int64 token ids, mask [B, N] int64 (1 = real token, 0 = padding; padded keys
    // are invisible, padded query rows are computed anyway) -> last_hidden_state [B, N, H] fp32
    // (bf16 values in kBF16), on the options' device. Positions are 0..N-1 for every row.
    at::Tensor forward(const at::Tensor& ids, const at::Tensor& mask, const T5GemmaTap& tap = nullptr) const;

    // The store holding layer matrices that are not plain slots (quantized, converted per use,
    // streamed); null when every matrix is a slot of weights().
    const models::BlockStore* block_store() const { return blocks_.get(); }

private:
    T5GemmaLayerWeights layer_weights(int i, std::shared_ptr<const models::BlockStore::Lease>& lease) const;

    T5GemmaConfig config_;
    T5GemmaOptions options_;
    T5GemmaWeights weights_;
    std::shared_ptr<models::BlockStore> blocks_;
    std::string key_prefix_ = "model.encoder.";  // of the checkpoint it was loaded from
};

// Bidirectional multi-head attention with GQA, a key-padding mask and an optional sliding
// window, processed in query blocks (the [Hq, N, N] score tensor is never materialised for
// long inputs). q [B, N, Hq, D], k and v [B, N, Hkv, D], key_mask [B, N] (nonzero = visible).
// Query i sees key j iff key_mask[j] and (window <= 0 or |i - j| < window). softcap > 0 applies
// softcap·tanh(s/softcap) to the scaled scores. fp32 math; a query row that sees no key
// gets zeros. `q_block` = query rows per block (0: as many as keep the block's scores near
// 64 MB). Returns [B, N, Hq, D] fp32.
at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& key_mask, double scale, int64_t window, double softcap,
                            int64_t q_block = 0);

}  // namespace canter::t5gemma
