#include "pipeline/model_manifest.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/check.h"
#include "util/json_file.h"

namespace canter::pipeline {

namespace fs = std::filesystem;

namespace {

// Parses one component entry (a folder string or an object) and records what is missing.
std::optional<ComponentRef> read_component(const nlohmann::json& root, const std::string& key,
                                           const std::string& role, const fs::path& base,
                                           std::vector<std::string>& missing, const std::string& file) {
    if (!root.contains(key) || root.at(key).is_null()) return std::nullopt;
    const auto& v = root.at(key);
    ComponentRef ref;
    ref.role = role;
    auto resolve = [&](const nlohmann::json& p, const std::string& field) {
        CANTER_CHECK(p.is_string() && !p.get<std::string>().empty(), InvalidArgument,
                     file << ": '" << role << (field.empty() ? "" : "." + field) << "' must be a non-empty path string");
        const fs::path q = p.get<std::string>();
        return (q.is_absolute() ? q : base / q).lexically_normal().string();
    };
    if (v.is_string()) {
        ref.path = resolve(v, "");
    } else if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            const auto& k = it.key();
            if (k == "path") ref.path = resolve(it.value(), k);
            else if (k == "config") ref.config = resolve(it.value(), k);
            else if (k == "weights") ref.weights = resolve(it.value(), k);
            else if (k == "arch") {
                CANTER_CHECK(it.value().is_object(), InvalidArgument, file << ": '" << role << ".arch' must be an object");
                ref.arch = it.value();
            } else {
                CANTER_THROW(InvalidArgument, file << ": unknown field '" << role << "." << k
                                                   << "' (expected path, config, weights, arch)");
            }
        }
        CANTER_CHECK(!ref.path.empty() || !ref.weights.empty(), InvalidArgument,
                     file << ": '" << role << "' needs a 'path' or 'weights'");
    } else {
        CANTER_THROW(InvalidArgument, file << ": '" << role << "' must be a folder path or an object, got " << v.dump());
    }
    for (const auto& p : {ref.path, ref.config, ref.weights})
        if (!p.empty() && !fs::exists(p)) missing.push_back(role + ": " + p + " does not exist");
    return ref;
}

void require_file(const std::optional<ComponentRef>& ref, const std::vector<std::string>& names,
                  std::vector<std::string>& missing) {
    if (!ref || ref->path.empty() || !fs::is_directory(ref->path)) return;
    for (const auto& alternatives : names) {
        // "a|b": either file will do
        bool found = false;
        std::stringstream ss(alternatives);
        std::string name;
        while (std::getline(ss, name, '|'))
            if (fs::exists(fs::path(ref->path) / name)) found = true;
        if (!found) missing.push_back(ref->role + ": " + (fs::path(ref->path) / alternatives).string() + " is missing");
    }
}

}  // namespace

std::string ComponentRef::describe() const {
    std::ostringstream s;
    s << role << ": " << (path.empty() ? weights : path);
    if (!config.empty()) s << " (config " << config << ")";
    if (!weights.empty() && !path.empty()) s << " (weights " << weights << ")";
    if (!arch.is_null()) s << " arch " << arch.dump();
    return s.str();
}

std::vector<int> sr_1080p_local_attn_layers() {
    std::vector<int> layers;
    for (int i = 0; i < 40; ++i)
        if (i % 4 != 3 || i >= 35) layers.push_back(i);  // global: 3, 7, ..., 31
    return layers;
}

ModelManifest ModelManifest::load(const std::string& path) {
    fs::path file = path;
    if (fs::is_directory(file)) file /= kManifestFileName;
    CANTER_CHECK(fs::exists(file), NotFound,
                 file.string() << " not found: a canter model folder needs a " << kManifestFileName
                               << " manifest (see docs/models.md; `canter make-demo-model DIR` writes an example)");
    const nlohmann::json j = read_json_file(file.string());
    const std::string f = file.string();
    CANTER_CHECK(j.is_object(), Corruption, f << ": must be a JSON object");
    CANTER_CHECK(j.value("format", "") == "canter-model", InvalidArgument,
                 f << ": field 'format' must be \"canter-model\"");
    CANTER_CHECK(j.value("version", 0) == 1, Unsupported,
                 f << ": manifest version " << j.value("version", 0) << " is not supported (this build reads 1)");

    ModelManifest m;
    m.dir = fs::absolute(file.parent_path()).lexically_normal().string();
    m.name = j.value("name", fs::path(m.dir).filename().string());
    m.demo = j.value("demo", false);
    m.negative_prompt = j.value("negative_prompt", "");
    const fs::path base = m.dir;
    std::vector<std::string> missing;
    if (j.contains("dit")) {
        const auto& d = j.at("dit");
        CANTER_CHECK(d.is_object(), InvalidArgument, f << ": 'dit' must be an object");
        for (auto it = d.begin(); it != d.end(); ++it) {
            const auto& k = it.key();
            CANTER_CHECK(k == "distill" || k == "base" || k == "sr_540p" || k == "sr_1080p", InvalidArgument,
                         f << ": unknown DiT role 'dit." << k << "' (expected distill, base, sr_540p, sr_1080p)");
        }
        m.dit_distill = read_component(d, "distill", "dit.distill", base, missing, f);
        m.dit_base = read_component(d, "base", "dit.base", base, missing, f);
        m.dit_sr_540p = read_component(d, "sr_540p", "dit.sr_540p", base, missing, f);
        m.dit_sr_1080p = read_component(d, "sr_1080p", "dit.sr_1080p", base, missing, f);
    }
    m.text_encoder = read_component(j, "text_encoder", "text_encoder", base, missing, f);
    m.tokenizer = read_component(j, "tokenizer", "tokenizer", base, missing, f);
    m.video_vae = read_component(j, "video_vae", "video_vae", base, missing, f);
    m.turbo_vaed = read_component(j, "turbo_vaed", "turbo_vaed", base, missing, f);
    m.audio_vae = read_component(j, "audio_vae", "audio_vae", base, missing, f);

    if (!m.dit_distill && !m.dit_base) missing.push_back("dit.distill or dit.base: no base-stage DiT is named");
    if (!m.text_encoder) missing.push_back("text_encoder: not named");
    if (!m.tokenizer) missing.push_back("tokenizer: not named");
    if (!m.audio_vae) missing.push_back("audio_vae: not named");
    if (!m.turbo_vaed && !m.video_vae) missing.push_back("turbo_vaed or video_vae: no video decoder is named");
    require_file(m.text_encoder, {"config.json"}, missing);
    require_file(m.tokenizer, {"tokenizer.model"}, missing);
    require_file(m.audio_vae, {"model_config.json", "model.safetensors"}, missing);
    if (m.turbo_vaed && m.turbo_vaed->config.empty()) require_file(m.turbo_vaed, {"config.json"}, missing);
    if (!missing.empty()) {
        std::ostringstream msg;
        msg << f << ": the model is incomplete (" << missing.size() << " problem" << (missing.size() > 1 ? "s" : "")
            << "):";
        for (const auto& line : missing) msg << "\n  - " << line;
        CANTER_THROW(NotFound, msg.str());
    }
    return m;
}

std::vector<std::string> ModelManifest::resolutions() const {
    std::vector<std::string> out = {"256p"};
    if (dit_sr_540p) out.push_back("540p");
    if (dit_sr_1080p) out.push_back("1080p");
    return out;
}

std::vector<std::string> ModelManifest::describe() const {
    std::vector<std::string> out;
    for (const auto* c : {&dit_distill, &dit_base, &dit_sr_540p, &dit_sr_1080p, &text_encoder, &tokenizer, &video_vae,
                          &turbo_vaed, &audio_vae})
        if (*c) out.push_back((*c)->describe());
    return out;
}

}  // namespace canter::pipeline
