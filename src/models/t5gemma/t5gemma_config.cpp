#include "models/t5gemma/t5gemma_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "util/check.h"
#include "util/json_file.h"

namespace canter::t5gemma {

namespace {

// Field readers: `where` names the JSON object in messages ("config.json encoder").
struct Reader {
    const nlohmann::json& j;
    std::string where;

    const nlohmann::json* find(const std::string& key) const {
        auto it = j.find(key);
        return it == j.end() ? nullptr : &*it;
    }
    const nlohmann::json& require(const std::string& key) const {
        const nlohmann::json* v = find(key);
        CANTER_CHECK(v != nullptr && !v->is_null(), InvalidArgument,
                     "T5Gemma " << where << ": missing required field '" << key << "'");
        return *v;
    }
    int64_t integer(const nlohmann::json& v, const std::string& key) const {
        CANTER_CHECK(v.is_number_integer(), InvalidArgument,
                     "T5Gemma " << where << ": field '" << key << "' must be an integer, got " << v.dump());
        return v.get<int64_t>();
    }
    double number(const nlohmann::json& v, const std::string& key) const {
        CANTER_CHECK(v.is_number(), InvalidArgument,
                     "T5Gemma " << where << ": field '" << key << "' must be a number, got " << v.dump());
        return v.get<double>();
    }
    int64_t required_int(const std::string& key) const { return integer(require(key), key); }
    void optional_int(const std::string& key, int64_t& out) const {
        if (const auto* v = find(key); v && !v->is_null()) out = integer(*v, key);
    }
    void optional_number(const std::string& key, double& out) const {
        if (const auto* v = find(key); v && !v->is_null()) out = number(*v, key);
    }
};

}  // namespace

T5GemmaConfig T5GemmaConfig::from_json(const nlohmann::json& root) {
    CANTER_CHECK(root.is_object(), InvalidArgument, "T5Gemma config must be a JSON object");
    const bool nested = root.contains("encoder");
    const nlohmann::json& j = nested ? root.at("encoder") : root;
    CANTER_CHECK(j.is_object(), InvalidArgument,
                 "T5Gemma config: field 'encoder' must be an object, got " << j.dump());
    const Reader r{j, nested ? "config 'encoder'" : "config"};

    T5GemmaConfig c;
    c.vocab_size = r.required_int("vocab_size");
    c.hidden_size = r.required_int("hidden_size");
    c.intermediate_size = r.required_int("intermediate_size");
    c.num_hidden_layers = static_cast<int>(r.required_int("num_hidden_layers"));
    c.num_attention_heads = static_cast<int>(r.required_int("num_attention_heads"));
    c.num_key_value_heads = static_cast<int>(r.required_int("num_key_value_heads"));
    c.head_dim = r.required_int("head_dim");
    r.optional_number("query_pre_attn_scalar", c.query_pre_attn_scalar);
    r.optional_int("sliding_window", c.sliding_window);
    r.optional_number("rope_theta", c.rope_theta);
    r.optional_number("rms_norm_eps", c.rms_norm_eps);
    if (const auto* v = r.find("attn_logit_softcapping")) {
        c.attn_logit_softcapping = v->is_null() ? 0.0 : r.number(*v, "attn_logit_softcapping");
    }
    if (const auto* v = r.find("hidden_activation"); v && !v->is_null()) {
        CANTER_CHECK(v->is_string(), InvalidArgument,
                     "T5Gemma " << r.where << ": field 'hidden_activation' must be a string, got " << v->dump());
        c.hidden_activation = v->get<std::string>();
    }
    if (const auto* v = r.find("rope_scaling"); v && !v->is_null()) {
        CANTER_THROW(Unsupported, "T5Gemma " << r.where << ": field 'rope_scaling' = " << v->dump()
                                             << " is not supported (only the default RoPE, null)");
    }
    // Token ids live in the sub-config and at the top level; the sub-config wins.
    for (const auto* src : {&root, &j}) {
        const Reader t{*src, src == &j ? r.where : "config"};
        t.optional_int("pad_token_id", c.pad_token_id);
        t.optional_int("eos_token_id", c.eos_token_id);
        t.optional_int("bos_token_id", c.bos_token_id);
    }

    const auto* types = r.find("layer_types");
    if (types == nullptr || types->is_null()) {
        for (int i = 0; i < c.num_hidden_layers; ++i) c.sliding_layers.push_back(i % 2 == 0);
    } else {
        CANTER_CHECK(types->is_array(), InvalidArgument,
                     "T5Gemma " << r.where << ": field 'layer_types' must be a list or null, got " << types->dump());
        CANTER_CHECK(static_cast<int64_t>(types->size()) == c.num_hidden_layers, InvalidArgument,
                     "T5Gemma " << r.where << ": field 'layer_types' has " << types->size()
                                << " entries, expected num_hidden_layers = " << c.num_hidden_layers);
        for (size_t i = 0; i < types->size(); ++i) {
            const auto& t = (*types)[i];
            const std::string s = t.is_string() ? t.get<std::string>() : t.dump();
            CANTER_CHECK(s == "sliding_attention" || s == "full_attention", InvalidArgument,
                         "T5Gemma " << r.where << ": field 'layer_types[" << i << "]' must be "
                                    << "\"sliding_attention\" or \"full_attention\", got " << t.dump());
            c.sliding_layers.push_back(s == "sliding_attention");
        }
    }
    c.validate();
    return c;
}

T5GemmaConfig T5GemmaConfig::from_model_dir(const std::string& dir) {
    const std::string path = (std::filesystem::path(dir) / "config.json").string();
    const nlohmann::json j = read_json_file(path);
    try {
        return from_json(j);
    } catch (const Error& e) {
        throw Error(e.code(), path + ": " + e.what());
    }
}

void T5GemmaConfig::validate() const {
    auto positive = [](int64_t v, const char* name) {
        CANTER_CHECK(v > 0, InvalidArgument, "T5Gemma config: field '" << name << "' must be positive, got " << v);
    };
    positive(vocab_size, "vocab_size");
    positive(hidden_size, "hidden_size");
    positive(intermediate_size, "intermediate_size");
    positive(num_hidden_layers, "num_hidden_layers");
    positive(num_attention_heads, "num_attention_heads");
    positive(num_key_value_heads, "num_key_value_heads");
    positive(head_dim, "head_dim");
    positive(sliding_window, "sliding_window");
    CANTER_CHECK(num_attention_heads % num_key_value_heads == 0, InvalidArgument,
                 "T5Gemma config: num_attention_heads (" << num_attention_heads
                                                         << ") must be a multiple of num_key_value_heads ("
                                                         << num_key_value_heads << ")");
    CANTER_CHECK(head_dim % 2 == 0, InvalidArgument,
                 "T5Gemma config: field 'head_dim' must be even for RoPE, got " << head_dim);
    CANTER_CHECK(query_pre_attn_scalar > 0, InvalidArgument,
                 "T5Gemma config: field 'query_pre_attn_scalar' must be positive, got " << query_pre_attn_scalar);
    CANTER_CHECK(rope_theta > 0, InvalidArgument,
                 "T5Gemma config: field 'rope_theta' must be positive, got " << rope_theta);
    CANTER_CHECK(rms_norm_eps >= 0, InvalidArgument,
                 "T5Gemma config: field 'rms_norm_eps' must not be negative, got " << rms_norm_eps);
    CANTER_CHECK(attn_logit_softcapping >= 0, InvalidArgument,
                 "T5Gemma config: field 'attn_logit_softcapping' must not be negative, got " << attn_logit_softcapping);
    CANTER_CHECK(hidden_activation == "gelu_pytorch_tanh", Unsupported,
                 "T5Gemma config: field 'hidden_activation' = '" << hidden_activation
                                                                 << "' is not supported (only gelu_pytorch_tanh)");
    CANTER_CHECK(static_cast<int>(sliding_layers.size()) == num_hidden_layers, InvalidArgument,
                 "T5Gemma config: " << sliding_layers.size() << " layer types for " << num_hidden_layers
                                    << " layers");
}

nlohmann::json T5GemmaConfig::to_json() const {
    nlohmann::json types = nlohmann::json::array();
    for (bool s : sliding_layers) types.push_back(s ? "sliding_attention" : "full_attention");
    nlohmann::json enc = {
        {"vocab_size", vocab_size},
        {"hidden_size", hidden_size},
        {"intermediate_size", intermediate_size},
        {"num_hidden_layers", num_hidden_layers},
        {"num_attention_heads", num_attention_heads},
        {"num_key_value_heads", num_key_value_heads},
        {"head_dim", head_dim},
        {"query_pre_attn_scalar", query_pre_attn_scalar},
        {"sliding_window", sliding_window},
        {"layer_types", types},
        {"rope_theta", rope_theta},
        {"rope_scaling", nullptr},
        {"rms_norm_eps", rms_norm_eps},
        {"attn_logit_softcapping", attn_logit_softcapping > 0 ? nlohmann::json(attn_logit_softcapping) : nullptr},
        {"hidden_activation", hidden_activation},
        {"attention_bias", false},
        {"is_decoder", false},
        {"pad_token_id", pad_token_id},
        {"eos_token_id", eos_token_id},
        {"bos_token_id", bos_token_id},
    };
    return {
        {"architectures", {"T5GemmaForConditionalGeneration"}},
        {"model_type", "t5gemma"},
        {"is_encoder_decoder", true},
        {"torch_dtype", "bfloat16"},
        {"encoder", enc},
        {"vocab_size", vocab_size},
        {"pad_token_id", pad_token_id},
        {"eos_token_id", eos_token_id},
        {"bos_token_id", bos_token_id},
    };
}

}  // namespace canter::t5gemma
