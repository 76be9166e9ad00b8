#include "models/wan_vae/wan_vae_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "util/check.h"
#include "util/json_fields.h"
#include "util/json_file.h"

namespace canter::wan_vae {

namespace {

// Typed reads naming this config (util/json_fields.h).
constexpr const char* kWhat = "Wan VAE config key";
int64_t get_int(const nlohmann::json& v, const std::string& k) { return json_fields::get_int<int64_t>(v, kWhat, k); }
std::vector<int64_t> get_int_list(const nlohmann::json& v, const std::string& k) {
    return json_fields::get_int_list<int64_t>(v, kWhat, k);
}
std::vector<bool> get_bool_list(const nlohmann::json& v, const std::string& k) {
    return json_fields::get_bool_list(v, kWhat, k);
}

}  // namespace

WanVaeConfig WanVaeConfig::from_json(const nlohmann::json& root) {
    CANTER_CHECK(root.is_object(), InvalidArgument,
                 "Wan VAE config must be a JSON object, got " << root.dump());
    const nlohmann::json& j = root.contains("WanVAE_kwargs") ? root.at("WanVAE_kwargs") : root;
    CANTER_CHECK(j.is_object(), InvalidArgument,
                 "Wan VAE config: WanVAE_kwargs must be an object, got " << j.dump());
    WanVaeConfig c;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const auto& v = it.value();
        if (k == "dim") c.dim = get_int(v, k);
        else if (k == "dec_dim") c.dec_dim = get_int(v, k);
        else if (k == "z_dim") c.z_dim = get_int(v, k);
        else if (k == "dim_mult") c.dim_mult = get_int_list(v, k);
        else if (k == "num_res_blocks") c.num_res_blocks = static_cast<int>(get_int(v, k));
        else if (k == "temperal_downsample") c.temperal_downsample = get_bool_list(v, k);
        else if (k == "attn_scales") {
            // Upstream accepts the argument but never builds attention from it.
            CANTER_CHECK(v.is_array() && v.empty(), Unsupported,
                         "Wan VAE config: attn_scales " << v.dump()
                             << " is not supported (upstream ignores it; only [] is accepted)");
        } else if (k == "dropout") {
            CANTER_CHECK(v.is_number(), InvalidArgument,
                         "Wan VAE config key 'dropout' must be a number, got " << v.dump());
        } else {
            CANTER_THROW(InvalidArgument, "Wan VAE config: unknown key '" << k << "'");
        }
    }
    c.validate();
    return c;
}

WanVaeConfig WanVaeConfig::from_model_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path p = fs::path(dir) / "config.json";
    if (!fs::exists(p)) return WanVaeConfig{};
    const nlohmann::json j = read_json_file(p.string());
    // A Wan2.2-TI2V-5B folder's config.json describes the DiT, not the VAE.
    if (!j.is_object() || !j.contains("WanVAE_kwargs")) return WanVaeConfig{};
    try {
        return from_json(j);
    } catch (const Error& e) {
        throw Error(e.code(), p.string() + ": " + e.what());
    }
}

void WanVaeConfig::validate() const {
    CANTER_CHECK(dim > 0 && dec_dim > 0 && z_dim > 0, InvalidArgument,
                 "Wan VAE config: dim (" << dim << "), dec_dim (" << dec_dim << ") and z_dim ("
                                         << z_dim << ") must be positive");
    CANTER_CHECK(!dim_mult.empty(), InvalidArgument, "Wan VAE config: dim_mult is empty");
    for (int64_t m : dim_mult)
        CANTER_CHECK(m > 0, InvalidArgument,
                     "Wan VAE config: dim_mult " << shape_str(dim_mult) << " must be positive");
    CANTER_CHECK(num_res_blocks >= 1, InvalidArgument,
                 "Wan VAE config: num_res_blocks must be >= 1, got " << num_res_blocks);
    // Upstream reads temperal_downsample[i] only for the stages that resample (all but the
    // last); a longer list would give the last stage's shortcut a factor_t of 2 with no
    // matching main path, which crashes upstream.
    CANTER_CHECK(temperal_downsample.size() + 1 == dim_mult.size(), InvalidArgument,
                 "Wan VAE config: temperal_downsample " << shape_str(temperal_downsample)
                     << " needs " << dim_mult.size() - 1 << " entries (one per resampling stage "
                     << "of dim_mult " << shape_str(dim_mult) << ")");
    // The shortcuts regroup channels: AvgDown3D needs in*f % out == 0, DupUp3D out*f % in == 0.
    for (const auto& s : encoder_stages()) {
        const int64_t f = (s.temporal ? 2 : 1) * (s.resample ? 4 : 1);
        CANTER_CHECK(s.in_channels * f % s.out_channels == 0, InvalidArgument,
                     "Wan VAE config: encoder stage " << s.in_channels << " -> " << s.out_channels
                         << " channels cannot be averaged by its AvgDown3D shortcut");
    }
    for (const auto& s : decoder_stages()) {
        if (!s.has_shortcut) continue;
        const int64_t f = (s.temporal ? 2 : 1) * 4;
        CANTER_CHECK(s.out_channels * f % s.in_channels == 0, InvalidArgument,
                     "Wan VAE config: decoder stage " << s.in_channels << " -> " << s.out_channels
                         << " channels cannot be duplicated by its DupUp3D shortcut");
    }
}

std::vector<StagePlan> WanVaeConfig::encoder_stages() const {
    std::vector<StagePlan> out;
    const size_t n = dim_mult.size();
    int64_t in = dim;
    for (size_t i = 0; i < n; ++i) {
        StagePlan s;
        s.in_channels = in;
        s.out_channels = dim * dim_mult[i];
        s.num_blocks = num_res_blocks;
        s.resample = i + 1 != n;
        s.temporal = s.resample && temperal_downsample[i];
        s.has_shortcut = true;  // the last stage's AvgDown3D(·,·,1,1) too (identity if in == out)
        out.push_back(s);
        in = s.out_channels;
    }
    return out;
}

std::vector<StagePlan> WanVaeConfig::decoder_stages() const {
    std::vector<StagePlan> out;
    const size_t n = dim_mult.size();
    int64_t in = dec_dim * dim_mult.back();
    for (size_t i = 0; i < n; ++i) {
        StagePlan s;
        s.in_channels = in;
        s.out_channels = dec_dim * dim_mult[n - 1 - i];
        s.num_blocks = num_res_blocks + 1;
        s.resample = i + 1 != n;
        // temperal_upsample = reversed temperal_downsample, read for the first n-1 stages.
        s.temporal = s.resample && temperal_downsample[n - 2 - i];
        s.has_shortcut = s.resample;  // the last decoder stage has no block shortcut
        out.push_back(s);
        in = s.out_channels;
    }
    return out;
}

int64_t WanVaeConfig::temporal_stride() const {
    int64_t s = 1;
    for (bool t : temperal_downsample) s *= t ? 2 : 1;
    return s;
}

int64_t WanVaeConfig::spatial_stride() const {
    return int64_t(2) << (dim_mult.size() - 1);  // patchify x2, then x2 per resampling stage
}

std::string WanVaeConfig::summary() const {
    std::ostringstream os;
    os << "Wan2.2 VAE: dim " << dim << ", dec_dim " << dec_dim << ", z_dim " << z_dim
       << ", dim_mult " << shape_str(dim_mult) << ", num_res_blocks " << num_res_blocks
       << ", temperal_downsample " << shape_str(temperal_downsample) << " (stride T x"
       << temporal_stride() << ", HW x" << spatial_stride() << ")";
    return os.str();
}

}  // namespace canter::wan_vae
