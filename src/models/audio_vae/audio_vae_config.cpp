#include "models/audio_vae/audio_vae_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/check.h"
#include "util/json_fields.h"
#include "util/json_file.h"

namespace canter::audio_vae {

namespace {

// Typed reads naming this config (util/json_fields.h).
constexpr const char* kWhat = "audio VAE config key";
int get_int(const nlohmann::json& v, const std::string& k) { return json_fields::get_int(v, kWhat, k); }
bool get_bool(const nlohmann::json& v, const std::string& k) { return json_fields::get_bool(v, kWhat, k); }
std::vector<int> get_int_list(const nlohmann::json& v, const std::string& k) {
    return json_fields::get_int_list(v, kWhat, k);
}

const nlohmann::json& require(const nlohmann::json& j, const std::string& key,
                              const std::string& where) {
    CANTER_CHECK(j.is_object() && j.contains(key), InvalidArgument,
                 "audio VAE config: '" << where << "' has no key '" << key << "'");
    return j.at(key);
}

// `side` is "encoder" or "decoder": {"type": "oobleck", "config": {...}, "requires_grad": ...}.
OobleckConfig parse_oobleck(const nlohmann::json& block, const std::string& side) {
    const std::string type = require(block, "type", side).get<std::string>();
    CANTER_CHECK(type == "oobleck", Unsupported,
                 "audio VAE config: " << side << " type '" << type
                                      << "' is not supported (only 'oobleck')");
    const nlohmann::json& cfg = require(block, "config", side);
    CANTER_CHECK(cfg.is_object(), InvalidArgument,
                 "audio VAE config: " << side << ".config must be an object, got " << cfg.dump());
    const bool encoder = side == "encoder";
    OobleckConfig c;
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
        const std::string k = side + ".config." + it.key();
        const auto& v = it.value();
        const std::string& name = it.key();
        if (name == (encoder ? "in_channels" : "out_channels")) c.io_channels = get_int(v, k);
        else if (name == "channels") c.channels = get_int(v, k);
        else if (name == "c_mults") c.c_mults = get_int_list(v, k);
        else if (name == "strides") c.strides = get_int_list(v, k);
        else if (name == "latent_dim") c.latent_dim = get_int(v, k);
        else if (name == "use_snake") c.use_snake = get_bool(v, k);
        else if (!encoder && name == "final_tanh") c.final_tanh = get_bool(v, k);
        // stable-audio-tools options MagiHuman's trimmed module does not have: harmless when
        // off, a different network when on.
        else if (name == "antialias_activation" || (!encoder && name == "use_nearest_upsample")) {
            CANTER_CHECK(!get_bool(v, k), Unsupported,
                         "audio VAE config: '" << k << "' = true is not supported "
                                               << "(MagiHuman's Oobleck module lacks it)");
        } else {
            CANTER_THROW(InvalidArgument, "audio VAE config: unknown key '"
                                              << k << "' (upstream's Oobleck"
                                              << (encoder ? "Encoder" : "Decoder")
                                              << " constructor rejects it)");
        }
    }
    if (encoder) c.final_tanh = false;
    return c;
}

}  // namespace

std::vector<int64_t> OobleckConfig::widths() const {
    std::vector<int64_t> w = {int64_t(channels)};
    for (int m : c_mults) w.push_back(int64_t(m) * channels);
    return w;
}

int64_t OobleckConfig::stride_product() const {
    int64_t p = 1;
    for (int s : strides) p *= s;
    return p;
}

AudioVaeConfig AudioVaeConfig::from_json(const nlohmann::json& root) {
    CANTER_CHECK(root.is_object(), InvalidArgument,
                 "audio VAE config must be a JSON object, got " << root.dump());
    AudioVaeConfig c;
    const nlohmann::json* pre = &root;
    if (root.contains("model")) {
        const auto& pretransform = require(root.at("model"), "pretransform", "model");
        if (pretransform.contains("type")) {
            const std::string type = pretransform.at("type").get<std::string>();
            CANTER_CHECK(type == "autoencoder", Unsupported,
                         "audio VAE config: model.pretransform.type '" << type
                                                                      << "' is not supported");
        }
        pre = &require(pretransform, "config", "model.pretransform");
        if (root.contains("sample_rate"))
            c.sample_rate = get_int(root.at("sample_rate"), "sample_rate");
    }
    const nlohmann::json& p = *pre;
    c.encoder = parse_oobleck(require(p, "encoder", "pretransform.config"), "encoder");
    c.decoder = parse_oobleck(require(p, "decoder", "pretransform.config"), "decoder");
    c.latent_dim = get_int(require(p, "latent_dim", "pretransform.config"), "latent_dim");
    c.downsampling_ratio =
        get_int(require(p, "downsampling_ratio", "pretransform.config"), "downsampling_ratio");
    c.io_channels = get_int(require(p, "io_channels", "pretransform.config"), "io_channels");
    if (p.contains("sample_rate")) c.sample_rate = get_int(p.at("sample_rate"), "sample_rate");
    if (p.at("decoder").contains("soft_clip"))
        c.soft_clip = get_bool(p.at("decoder").at("soft_clip"), "decoder.soft_clip");
    // Upstream builds a VAEBottleneck only for type "vae"; without one the encoder output is the
    // latent, which no MagiHuman checkpoint uses.
    const auto& bottleneck = require(p, "bottleneck", "pretransform.config");
    const std::string btype = require(bottleneck, "type", "bottleneck").get<std::string>();
    CANTER_CHECK(btype == "vae", Unsupported,
                 "audio VAE config: bottleneck type '" << btype
                                                       << "' is not supported (only 'vae')");
    c.validate();
    return c;
}

AudioVaeConfig AudioVaeConfig::from_model_dir(const std::string& dir) {
    const std::string path = (std::filesystem::path(dir) / "model_config.json").string();
    const nlohmann::json j = read_json_file(path);
    try {
        return from_json(j);
    } catch (const Error& e) {
        throw Error(e.code(), path + ": " + e.what());
    } catch (const nlohmann::json::exception& e) {
        CANTER_THROW(InvalidArgument, path << ": " << e.what());
    }
}

void AudioVaeConfig::validate() const {
    for (const auto* side : {&encoder, &decoder}) {
        const char* name = side == &encoder ? "encoder" : "decoder";
        CANTER_CHECK(side->channels > 0 && side->io_channels > 0 && side->latent_dim > 0,
                     InvalidArgument,
                     "audio VAE config: " << name << " channels, io channels and latent_dim must "
                                          << "be positive");
        CANTER_CHECK(!side->c_mults.empty() && side->c_mults.size() == side->strides.size(),
                     InvalidArgument,
                     "audio VAE config: " << name << " c_mults " << shape_str(side->c_mults)
                                          << " and strides " << shape_str(side->strides)
                                          << " must be non-empty and of equal length");
        for (size_t i = 0; i < side->strides.size(); ++i)
            CANTER_CHECK(side->strides[i] > 0 && side->c_mults[i] > 0, InvalidArgument,
                         "audio VAE config: " << name << " strides/c_mults must be positive, got "
                                              << shape_str(side->strides) << " / "
                                              << shape_str(side->c_mults));
    }
    CANTER_CHECK(encoder.latent_dim == 2 * latent_dim && decoder.latent_dim == latent_dim,
                 InvalidArgument,
                 "audio VAE config: the VAE bottleneck needs encoder.latent_dim = 2 x latent_dim ("
                     << 2 * latent_dim << ") and decoder.latent_dim = latent_dim (" << latent_dim
                     << "), got " << encoder.latent_dim << " and " << decoder.latent_dim);
    CANTER_CHECK(encoder.io_channels == io_channels && decoder.io_channels == io_channels,
                 InvalidArgument,
                 "audio VAE config: io_channels " << io_channels << " does not match encoder "
                                                  << "in_channels " << encoder.io_channels
                                                  << " / decoder out_channels "
                                                  << decoder.io_channels);
    CANTER_CHECK(encoder.stride_product() == downsampling_ratio &&
                     decoder.stride_product() == downsampling_ratio,
                 InvalidArgument,
                 "audio VAE config: downsampling_ratio " << downsampling_ratio
                                                         << " does not match the stride products "
                                                         << encoder.stride_product() << " / "
                                                         << decoder.stride_product());
}

int64_t AudioVaeConfig::latent_length(int64_t samples) const {
    // Stride-s conv with kernel 2s and padding ceil(s/2); the k7/k3 convs keep the length.
    int64_t L = samples;
    if (L < 1) return 0;
    for (int s : encoder.strides) {
        const int64_t pad = (s + 1) / 2, k = 2 * int64_t(s);
        if (L + 2 * pad < k) return 0;
        L = (L + 2 * pad - k) / s + 1;
    }
    return L;
}

int64_t AudioVaeConfig::waveform_length(int64_t latents) const {
    int64_t L = latents;
    for (auto it = decoder.strides.rbegin(); it != decoder.strides.rend(); ++it) {
        const int64_t s = *it, pad = (s + 1) / 2;
        L = (L - 1) * s - 2 * pad + 2 * s;
    }
    return L;
}

std::string AudioVaeConfig::summary() const {
    std::ostringstream os;
    os << "Oobleck VAE: io " << io_channels << " ch, channels " << encoder.channels << ", c_mults "
       << shape_str(encoder.c_mults) << ", strides " << shape_str(encoder.strides) << " (x"
       << downsampling_ratio << "), latent " << latent_dim << " (encoder " << encoder.latent_dim
       << "), " << (encoder.use_snake ? "snake" : "elu")
       << (decoder.final_tanh ? ", final tanh" : "") << (soft_clip ? ", soft clip" : "");
    return os.str();
}

}  // namespace canter::audio_vae
