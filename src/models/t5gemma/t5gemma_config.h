// Configuration of the T5Gemma encoder (transformers `configuration_t5gemma.py`,
// `T5GemmaModuleConfig`), read from the "encoder" sub-config of a Hugging Face T5Gemma
// `config.json` (spec encoders.md §4.2).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::t5gemma {

struct T5GemmaConfig {
    // Shapes: required in config.json (no silent defaults for anything that sizes a tensor).
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int num_hidden_layers = 0;
    int num_attention_heads = 0;
    int num_key_value_heads = 0;
    int64_t head_dim = 0;
    // Behaviour: optional, defaulting to transformers' T5GemmaModuleConfig values.
    double query_pre_attn_scalar = 256;  // scores are scaled by query_pre_attn_scalar^-0.5
    int64_t sliding_window = 4096;       // sliding layers: key j visible from query i iff |i-j| < w
    // One entry per layer, true = "sliding_attention". Absent/null `layer_types` in the file:
    // layer i is sliding iff i is even.
    std::vector<bool> sliding_layers;
    double rope_theta = 10000;
    double rms_norm_eps = 1e-6;
    double attn_logit_softcapping = 50;  // 0 = none (null in the file); applied only by kEager
    std::string hidden_activation = "gelu_pytorch_tanh";
    int64_t pad_token_id = 0;
    int64_t eos_token_id = 1;
    int64_t bos_token_id = 2;

    // Accepts a whole T5Gemma config.json (uses its "encoder" object) or a bare module config.
    // Throws canter::Error naming the field on a missing, mistyped or unsupported value.
    // Calls validate().
    static T5GemmaConfig from_json(const nlohmann::json& j);
    static T5GemmaConfig from_model_dir(const std::string& dir);  // <dir>/config.json
    void validate() const;

    // A T5Gemma config.json (encoder sub-config plus top-level token ids) describing this
    // encoder; from_json(to_json()) round-trips.
    nlohmann::json to_json() const;

    bool is_sliding(int layer) const { return sliding_layers.at(layer); }
    int64_t q_width() const { return num_attention_heads * head_dim; }
    int64_t kv_width() const { return num_key_value_heads * head_dim; }
};

}  // namespace canter::t5gemma
