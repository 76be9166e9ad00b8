#include "models/turbo_vaed/turbo_vaed_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "util/check.h"
#include "util/json_fields.h"
#include "util/json_file.h"

namespace canter::turbo_vaed {

namespace {

// Typed reads naming this config (util/json_fields.h).
constexpr const char* kWhat = "TurboVAED config key";
int get_int(const nlohmann::json& v, const std::string& k) { return json_fields::get_int(v, kWhat, k); }
double get_number(const nlohmann::json& v, const std::string& k) { return json_fields::get_number(v, kWhat, k); }
bool get_bool(const nlohmann::json& v, const std::string& k) { return json_fields::get_bool(v, kWhat, k); }
std::vector<int> get_int_list(const nlohmann::json& v, const std::string& k) {
    return json_fields::get_int_list(v, kWhat, k);
}
std::vector<bool> get_bool_list(const nlohmann::json& v, const std::string& k) {
    return json_fields::get_bool_list(v, kWhat, k);
}

}  // namespace

TurboVaedConfig TurboVaedConfig::from_json(const nlohmann::json& j) {
    CANTER_CHECK(j.is_object(), InvalidArgument,
                 "TurboVAED config must be a JSON object, got " << j.dump());
    // Keys the upstream class does not build anything from: diffusers bookkeeping, the
    // "useless" encoder input width, and training-time distillation heads.
    static const std::set<std::string> kIgnored = {
        "_class_name", "_diffusers_version", "_name_or_path", "in_channels",
        "aligned_feature_projection_mode", "aligned_feature_projection_dim",
        "aligned_blks_indices"};
    TurboVaedConfig c;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const auto& v = it.value();
        if (k == "latent_channels") c.latent_channels = get_int(v, k);
        else if (k == "out_channels") c.out_channels = get_int(v, k);
        else if (k == "decoder_block_out_channels") c.block_out_channels = get_int_list(v, k);
        else if (k == "decoder_layers_per_block") c.layers_per_block = get_int_list(v, k);
        else if (k == "decoder_spatio_temporal_scaling") c.spatio_temporal_scaling = get_bool_list(v, k);
        else if (k == "decoder_spatio_only") c.spatio_only = get_bool_list(v, k);
        else if (k == "decoder_is_dw_conv") c.is_dw_conv = get_bool_list(v, k);
        else if (k == "decoder_dw_kernel_size") c.dw_kernel_size = get_int(v, k);
        else if (k == "decoder_causal") c.causal = get_bool(v, k);
        else if (k == "patch_size") c.patch_size = get_int(v, k);
        else if (k == "patch_size_t") c.patch_size_t = get_int(v, k);
        else if (k == "resnet_norm_eps") c.resnet_norm_eps = get_number(v, k);
        else if (k == "scaling_factor") c.scaling_factor = get_number(v, k);
        else if (k == "first_chunk_size") c.first_chunk_size = get_int(v, k);
        else if (k == "step_size") c.step_size = get_int(v, k);
        else if (k == "spatial_compression_ratio") c.spatial_compression_ratio = get_int(v, k);
        else if (k == "temporal_compression_ratio") c.temporal_compression_ratio = get_int(v, k);
        else if (k == "use_unpatchify") c.use_unpatchify = get_bool(v, k);
        else if (!kIgnored.count(k))
            std::cerr << "canter: warning: unknown TurboVAED config key '" << k << "' ignored\n";
    }
    c.validate();
    return c;
}

TurboVaedConfig TurboVaedConfig::from_model_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path p = fs::path(dir) / "config.json";
    CANTER_CHECK(fs::exists(p), NotFound,
                 p.string() << ": not found (a TurboVAED model folder holds config.json and "
                               "weights.safetensors)");
    const nlohmann::json j = read_json_file(p.string());
    try {
        return from_json(j);
    } catch (const Error& e) {
        throw Error(e.code(), p.string() + ": " + e.what());
    }
}

void TurboVaedConfig::validate() const {
    const size_t n = block_out_channels.size();
    CANTER_CHECK(n >= 1, InvalidArgument, "TurboVAED config: decoder_block_out_channels is empty");
    for (int ch : block_out_channels)
        CANTER_CHECK(ch > 0, InvalidArgument, "TurboVAED config: decoder_block_out_channels "
                                                  << shape_str(block_out_channels)
                                                  << " must be positive");
    // Upstream indexes layers_per_block / is_dw_conv with [0] = mid block, [i+1] = up block i
    // after reversal, so both need exactly one more entry than there are up blocks.
    CANTER_CHECK(layers_per_block.size() == n + 1, InvalidArgument,
                 "TurboVAED config: decoder_layers_per_block " << shape_str(layers_per_block)
                     << " needs " << n + 1 << " entries (mid block + " << n << " up blocks)");
    CANTER_CHECK(is_dw_conv.size() == n + 1, InvalidArgument,
                 "TurboVAED config: decoder_is_dw_conv " << shape_str(is_dw_conv) << " needs "
                     << n + 1 << " entries (mid block + " << n << " up blocks)");
    CANTER_CHECK(spatio_temporal_scaling.size() == n, InvalidArgument,
                 "TurboVAED config: decoder_spatio_temporal_scaling "
                     << shape_str(spatio_temporal_scaling) << " needs " << n << " entries");
    CANTER_CHECK(spatio_only.size() == n, InvalidArgument,
                 "TurboVAED config: decoder_spatio_only " << shape_str(spatio_only) << " needs "
                     << n << " entries");
    for (int l : layers_per_block)
        CANTER_CHECK(l >= 0, InvalidArgument, "TurboVAED config: decoder_layers_per_block "
                                                  << shape_str(layers_per_block)
                                                  << " must not be negative");
    // The de-normalisation constants are hard-coded for the Wan2.2 latent space.
    CANTER_CHECK(latent_channels == 48, InvalidArgument,
                 "TurboVAED config: latent_channels must be 48 (the Wan2.2 mean/std constants "
                 "have 48 entries), got " << latent_channels);
    CANTER_CHECK(out_channels > 0, InvalidArgument,
                 "TurboVAED config: out_channels must be > 0, got " << out_channels);
    CANTER_CHECK(!causal, Unsupported,
                 "TurboVAED config: decoder_causal=true is not supported (upstream asserts false)");
    CANTER_CHECK(patch_size == 2, Unsupported,
                 "TurboVAED config: patch_size must be 2 (upstream asserts it), got " << patch_size);
    bool any_dw = false;
    for (bool b : is_dw_conv) any_dw = any_dw || b;
    CANTER_CHECK(!any_dw || (dw_kernel_size > 0 && dw_kernel_size % 2 == 1), InvalidArgument,
                 "TurboVAED config: decoder_dw_kernel_size must be odd and positive (symmetric "
                 "padding keeps sizes), got " << dw_kernel_size);
    CANTER_CHECK(use_unpatchify || final_channels() % 4 == 0, InvalidArgument,
                 "TurboVAED config: the pixel-shuffle head (use_unpatchify=false) needs the last "
                 "decoder width (" << final_channels() << ") divisible by 4");
    CANTER_CHECK(first_chunk_size >= 1 && step_size >= 1, InvalidArgument,
                 "TurboVAED config: first_chunk_size (" << first_chunk_size << ") and step_size ("
                     << step_size << ") must be >= 1");
    // The window overlap is temporal_compression_ratio pixel frames per latent frame; it only
    // lines up with the decoder when that is what the upsample3d stages produce.
    CANTER_CHECK(temporal_compression_ratio == (1 << temporal_upsamples()), InvalidArgument,
                 "TurboVAED config: temporal_compression_ratio " << temporal_compression_ratio
                     << " does not match the " << temporal_upsamples()
                     << " temporal upsample stage(s) of the decoder (x" << (1 << temporal_upsamples())
                     << ")");
}

std::vector<UpBlockPlan> TurboVaedConfig::up_blocks() const {
    const int n = static_cast<int>(block_out_channels.size());
    std::vector<UpBlockPlan> plan;
    int channels = mid_channels();
    for (int i = 0; i < n; ++i) {
        const int r = n - 1 - i;  // index into the JSON-order lists
        UpBlockPlan b;
        b.in_channels = channels;
        b.out_channels = block_out_channels[r];
        b.num_layers = layers_per_block[n - 1 - i];  // reversed list, entry i + 1
        b.upsample = spatio_temporal_scaling[r];
        b.spatial_only = spatio_only[r];
        b.depthwise = is_dw_conv[n - 1 - i];
        plan.push_back(b);
        channels = b.out_channels;
    }
    return plan;
}

int TurboVaedConfig::conv_out_in_channels() const {
    return use_unpatchify ? final_channels() : final_channels() / 4;
}

int TurboVaedConfig::conv_out_out_channels() const {
    return use_unpatchify ? out_channels * patch_size * patch_size : out_channels;
}

int TurboVaedConfig::temporal_upsamples() const {
    int k = 0;
    for (size_t i = 0; i < spatio_temporal_scaling.size() && i < spatio_only.size(); ++i)
        if (spatio_temporal_scaling[i] && !spatio_only[i]) ++k;
    return k;
}

int TurboVaedConfig::spatial_upsamples() const {
    int k = 1;  // unpatchify or the pixel-shuffle head
    for (bool s : spatio_temporal_scaling) k += s ? 1 : 0;
    return k;
}

std::string TurboVaedConfig::summary() const {
    std::ostringstream os;
    os << "TurboVAED decoder: latent " << latent_channels << ", widths " << shape_str(block_out_channels)
       << " (decoder order reversed), layers " << shape_str(layers_per_block) << ", head "
       << (use_unpatchify ? "unpatchify" : "pixel-shuffle") << ", windows first "
       << first_chunk_size << " step " << step_size << ", x" << (1 << spatial_upsamples())
       << " space, x" << temporal_compression_ratio << " time";
    return os.str();
}

}  // namespace canter::turbo_vaed
