// The MagiHuman joint audio-video DiT (upstream inference/model/dit/dit_module.py `DiTModel`):
// modality embedders -> num_layers transformer layers (GQA attention with a per-head sigmoid
// gate, gelu7 or swiglu7 MLP, modality-specific "sandwich" layers) -> per-modality heads.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/common/block_store.h"
#include "models/common/footprint.h"
#include "models/common/weights.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_sequence.h"
#include "tensor/attention.h"

namespace canter::dit {

// fp32: every matmul in fp32 (reference). bf16: upstream's numerics: bf16 matmuls and
// attention inputs/outputs, fp32 residual stream, norms, RoPE, embedders and heads.
enum class Precision { kFP32, kBF16 };
const char* precision_name(Precision p);
Precision parse_precision(const std::string& s);  // "fp32" | "bf16"; throws naming the value

// Weights of one transformer layer. E = experts (3 in mm layers, ordered video, audio, text,
// stacked along dim 0; else 1). Shapes per the comments, H = hidden, D = head_dim.
struct DitLayerWeights {
    at::Tensor attn_pre_norm;  // [E*H]                          attention.pre_norm.weight
    at::Tensor linear_qkv;     // [E*(Hq*D + 2*Hkv*D + Hq), H]   attention.linear_qkv.weight
    at::Tensor q_norm;         // [E*D]                          attention.q_norm.weight
    at::Tensor k_norm;         // [E*D]                          attention.k_norm.weight
    at::Tensor linear_proj;    // [E*H, Hq*D]                    attention.linear_proj.weight
    at::Tensor mlp_pre_norm;   // [E*H]                          mlp.pre_norm.weight
    at::Tensor up_gate_proj;   // [E*up, H]  up = 4H (gelu7) or 2*inner (swiglu7, interleaved)
    at::Tensor down_proj;      // [E*H, inner]
};

struct DitWeights {
    at::Tensor video_embedder_w, video_embedder_b;  // [H, Cv], [H]
    at::Tensor text_embedder_w, text_embedder_b;    // [H, Ct], [H]
    at::Tensor audio_embedder_w, audio_embedder_b;  // [H, Ca], [H]
    at::Tensor rope_bands;                          // [D/8] (optional buffer, recomputed)
    std::vector<DitLayerWeights> layers;
    at::Tensor final_norm_video, final_norm_audio;      // [H]
    at::Tensor final_linear_video, final_linear_audio;  // [Cv, H], [Ca, H]

    // Lists every tensor under its upstream state-dict key. `matrix_dtype` is the in-memory
    // dtype of the four big block matrices per layer; everything else is fp32.
    void visit(models::WeightVisitor& v, const DitConfig& config, at::ScalarType matrix_dtype);
    // The tensors of layer `i` alone (inside begin_block(i) / end_block()).
    static void visit_layer(models::WeightVisitor& v, const DitConfig& config, int i, DitLayerWeights& layer,
                            at::ScalarType matrix_dtype);
};

// Observer for named intermediates (adapter_out, rope, layer_out.{i}); null costs nothing.
using DitTap = std::function<void(const std::string& name, const at::Tensor& value)>;

struct DitOutput {
    at::Tensor video;  // [Nv, video_in_channels] fp32 velocity per video token
    at::Tensor audio;  // [Na, audio_in_channels] fp32
};

struct DitOptions {
    Precision precision = Precision::kBF16;
    c10::Device device = c10::Device(c10::kCPU);
    // How the layers' attention runs (kernel choice: CANTER_KERNELS unless named; tests name
    // one). Its `bf16` field is set from `precision`.
    tensor::AttentionOptions attention;
    // Read the block matrices from the checkpoint layer by layer, one layer ahead, instead of
    // keeping them (models/common/block_store.h). Only load() streams.
    bool stream_blocks = false;
};

class DitModel {
public:
    // Strict load: every key of `config` with its exact shape, no unexpected keys
    // (adapter.rope.bands may be absent). `path`: folder or safetensors/index file.
    static DitModel load(const std::string& path, const DitConfig& config, const DitOptions& options);
    // Memory the model needs resident or streamed with these options (nothing is loaded).
    static models::Footprint footprint(const std::string& path, const DitConfig& config, const DitOptions& options);
    // Model with N(0, 1/fan_in) weights, for benchmarks and self-consistency tests.
    static DitModel random(const DitConfig& config, const DitOptions& options, uint64_t seed);

    DitOutput forward(const DitSequence& seq, const DitTap& tap = nullptr) const;

    const DitConfig& config() const { return config_; }
    const DitOptions& options() const { return options_; }
    const DitWeights& weights() const { return weights_; }

    // Runs layer `i` alone on the residual stream x [L, H] (benchmarks).
    at::Tensor forward_layer(int i, const at::Tensor& x, const DitSequence& seq,
                             const at::Tensor& rope_sin, const at::Tensor& rope_cos) const;

    // The block store holding the layers' matrices when they are not plain slots (quantized,
    // converted per use or streamed); null when every matrix is a slot of weights().
    const models::BlockStore* block_store() const { return blocks_.get(); }
    // Layer `i`'s weights ready for compute; `lease` keeps store-held tensors alive.
    DitLayerWeights layer_weights(int i, std::shared_ptr<const models::BlockStore::Lease>& lease) const;

private:
    at::Tensor run_layer(int i, const DitLayerWeights& w, const at::Tensor& x, const DitSequence& seq,
                         const at::Tensor& rope_sin, const at::Tensor& rope_cos) const;

    DitConfig config_;
    DitOptions options_;
    DitWeights weights_;
    std::shared_ptr<models::BlockStore> blocks_;
};

// In-memory dtype of the block matrices for these options: bf16 where the device multiplies
// bf16 natively, fp32 otherwise (same values, fp32 GEMM, bf16 rounding applied explicitly).
at::ScalarType dit_matrix_dtype(const DitOptions& options);

}  // namespace canter::dit
