// Architecture of the MagiHuman DiT (upstream `ModelConfig`, inference/common/config.py).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace canter::dit {

// Modality index used for expert selection and packing (upstream order).
enum Modality : int { kVideo = 0, kAudio = 1, kText = 2 };
constexpr int kNumModalities = 3;

struct DitConfig {
    int num_layers = 40;
    int hidden_size = 5120;
    int head_dim = 128;
    int num_heads_q = 40;  // derived: hidden_size / head_dim
    int num_heads_kv = 8;  // upstream field name: num_query_groups
    int video_in_channels = 192;
    int audio_in_channels = 64;
    int text_in_channels = 3584;
    std::vector<int> mm_layers = {0, 1, 2, 3, 36, 37, 38, 39};
    std::vector<int> gelu7_layers = {0, 1, 2, 3};
    std::vector<int> local_attn_layers = {};
    bool enable_attn_gating = true;

    // The real 15B configuration (upstream code defaults; checkpoints ship no arch JSON).
    static DitConfig real();
    // Real defaults overridden by the fields of `arch` (an `arch_config` object). Unknown
    // fields are reported on stderr; wrong types / impossible values throw naming the field.
    static DitConfig from_json(const nlohmann::json& arch);
    // Reads `<dir>/config.json` (its `arch_config` section if present, else the top-level
    // object); a folder without config.json gets the real configuration.
    static DitConfig from_model_dir(const std::string& dir);
    // Applies a partial override (e.g. a conformance case's `arch_overrides`).
    void apply(const nlohmann::json& fields);
    void validate() const;

    bool is_mm_layer(int layer) const;
    bool is_gelu7_layer(int layer) const;
    bool is_local_attn_layer(int layer) const;
    int experts(int layer) const { return is_mm_layer(layer) ? kNumModalities : 1; }
    int qkv_rows() const;  // per expert: q | k | v | gate
    int swiglu_inner() const { return static_cast<int>(hidden_size * 8 / 3) / 4 * 4; }
    int mlp_up_rows(int layer) const;    // per expert
    int mlp_inner(int layer) const;      // per expert: input width of down_proj
    int rope_bands() const { return head_dim / 8; }

    std::string summary() const;  // one line for logs and `canter inspect`
};

}  // namespace canter::dit
