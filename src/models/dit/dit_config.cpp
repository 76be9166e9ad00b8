#include "models/dit/dit_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "util/check.h"
#include "util/json_file.h"

namespace canter::dit {

namespace {

int get_int(const nlohmann::json& j, const char* field) {
    const auto& v = j.at(field);
    CANTER_CHECK(v.is_number_integer(), InvalidArgument,
                 "DiT config field '" << field << "' must be an integer, got " << v.dump());
    return v.get<int>();
}

std::vector<int> get_int_list(const nlohmann::json& j, const char* field) {
    const auto& v = j.at(field);
    CANTER_CHECK(v.is_array(), InvalidArgument,
                 "DiT config field '" << field << "' must be a list of integers, got " << v.dump());
    std::vector<int> out;
    for (const auto& e : v) {
        CANTER_CHECK(e.is_number_integer(), InvalidArgument,
                     "DiT config field '" << field << "' must be a list of integers, got "
                                          << v.dump());
        out.push_back(e.get<int>());
    }
    return out;
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

DitConfig DitConfig::real() { return DitConfig{}; }

void DitConfig::apply(const nlohmann::json& j) {
    CANTER_CHECK(j.is_object(), InvalidArgument, "DiT config must be a JSON object, got " << j.dump());
    // Fields upstream's ModelConfig has but that do not change inference.
    static const std::set<std::string> kIgnored = {"activation_type", "params_dtype",
                                                   "checkpoint_qk_layernorm_rope", "tread_config"};
    bool heads_given = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k == "num_layers") num_layers = get_int(j, "num_layers");
        else if (k == "hidden_size") hidden_size = get_int(j, "hidden_size");
        else if (k == "head_dim") head_dim = get_int(j, "head_dim");
        else if (k == "num_query_groups") num_heads_kv = get_int(j, "num_query_groups");
        else if (k == "num_heads_kv") num_heads_kv = get_int(j, "num_heads_kv");
        else if (k == "num_heads_q") { num_heads_q = get_int(j, "num_heads_q"); heads_given = true; }
        else if (k == "video_in_channels") video_in_channels = get_int(j, "video_in_channels");
        else if (k == "audio_in_channels") audio_in_channels = get_int(j, "audio_in_channels");
        else if (k == "text_in_channels") text_in_channels = get_int(j, "text_in_channels");
        else if (k == "mm_layers") mm_layers = get_int_list(j, "mm_layers");
        else if (k == "gelu7_layers") gelu7_layers = get_int_list(j, "gelu7_layers");
        else if (k == "local_attn_layers") local_attn_layers = get_int_list(j, "local_attn_layers");
        else if (k == "post_norm_layers") {
            CANTER_CHECK(get_int_list(j, "post_norm_layers").empty(), Unsupported,
                         "DiT config field 'post_norm_layers' is non-empty; no MagiHuman "
                         "checkpoint uses post-norm layers and canter does not implement them");
        } else if (k == "enable_attn_gating") {
            CANTER_CHECK(it.value().is_boolean(), InvalidArgument,
                         "DiT config field 'enable_attn_gating' must be true or false");
            enable_attn_gating = it.value().get<bool>();
        } else if (!kIgnored.count(k)) {
            std::cerr << "canter: warning: unknown DiT config field '" << k << "' ignored\n";
        }
    }
    // Upstream derives the head count (post_override_config) unless it is given.
    if (!heads_given && head_dim > 0) num_heads_q = hidden_size / head_dim;
}

DitConfig DitConfig::from_json(const nlohmann::json& arch) {
    DitConfig c = real();
    c.apply(arch);
    c.validate();
    return c;
}

DitConfig DitConfig::from_model_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    fs::path p = fs::path(dir) / "config.json";
    if (!fs::exists(p)) return real();
    const nlohmann::json j = read_json_file(p.string());
    try {
        return from_json(j.contains("arch_config") ? j["arch_config"] : nlohmann::json::object());
    } catch (const Error& e) {
        throw Error(e.code(), p.string() + ": " + e.what());
    }
}

void DitConfig::validate() const {
    CANTER_CHECK(num_layers > 0, InvalidArgument, "DiT config: num_layers must be > 0, got " << num_layers);
    CANTER_CHECK(head_dim > 0 && head_dim % 8 == 0, InvalidArgument,
                 "DiT config: head_dim must be a positive multiple of 8 (RoPE uses head_dim/8 "
                 "bands per axis), got " << head_dim);
    CANTER_CHECK(hidden_size > 0, InvalidArgument, "DiT config: hidden_size must be > 0");
    CANTER_CHECK(num_heads_q > 0 && num_heads_kv > 0 && num_heads_q % num_heads_kv == 0,
                 InvalidArgument, "DiT config: num_heads_q (" << num_heads_q
                     << ") must be a positive multiple of num_query_groups (" << num_heads_kv << ")");
    CANTER_CHECK(video_in_channels > 0 && audio_in_channels > 0 && text_in_channels > 0,
                 InvalidArgument, "DiT config: input channel counts must be > 0");
    for (const auto* list : {&mm_layers, &gelu7_layers, &local_attn_layers})
        for (int l : *list)
            CANTER_CHECK(l >= 0 && l < num_layers, InvalidArgument,
                         "DiT config: layer index " << l << " out of range [0, " << num_layers << ")");
}

bool DitConfig::is_mm_layer(int layer) const { return contains(mm_layers, layer); }
bool DitConfig::is_gelu7_layer(int layer) const { return contains(gelu7_layers, layer); }
bool DitConfig::is_local_attn_layer(int layer) const { return contains(local_attn_layers, layer); }

int DitConfig::qkv_rows() const {
    return num_heads_q * head_dim + 2 * num_heads_kv * head_dim +
           (enable_attn_gating ? num_heads_q : 0);
}

int DitConfig::mlp_up_rows(int layer) const {
    return is_gelu7_layer(layer) ? 4 * hidden_size : 2 * swiglu_inner();
}

int DitConfig::mlp_inner(int layer) const {
    return is_gelu7_layer(layer) ? 4 * hidden_size : swiglu_inner();
}

std::string DitConfig::summary() const {
    std::ostringstream os;
    os << "DiT: " << num_layers << " layers, hidden " << hidden_size << ", heads " << num_heads_q
       << "q/" << num_heads_kv << "kv x " << head_dim << ", mm_layers " << shape_str(mm_layers)
       << ", gelu7_layers " << shape_str(gelu7_layers) << ", local_attn_layers "
       << shape_str(local_attn_layers) << ", gating " << (enable_attn_gating ? "on" : "off")
       << ", in channels video " << video_in_channels << " audio " << audio_in_channels
       << " text " << text_in_channels;
    return os.str();
}

}  // namespace canter::dit
