#include "canter/inspect.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "io/checkpoint.h"
#include "models/common/quantized_checkpoint.h"
#include "models/dit/dit_model.h"
#include "pipeline/model_manifest.h"
#include "util/check.h"
#include "util/json_file.h"

namespace canter {

namespace fs = std::filesystem;

namespace {

dit::DitConfig dit_config_of(const nlohmann::json& j) {
    return dit::DitConfig::from_json(j.contains("arch_config") ? j["arch_config"] : j);
}

void describe_dit_config(std::ostream& os, const dit::DitConfig& config) {
    models::SpecCollector specs;
    dit::DitWeights w;
    w.visit(specs, config, at::kBFloat16);
    os << config.summary() << "\n";
    os << "parameters: " << with_thousands(specs.parameter_count()) << " (" << specs.specs().size()
       << " tensors; bf16 block matrices + fp32 rest = "
       << std::fixed << std::setprecision(2) << specs.byte_count() / double(1ull << 30) << " GiB)\n";
}

}  // namespace

std::string with_thousands(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

int64_t dit_parameter_count(const std::string& config_json) {
    dit::DitConfig config;
    try {
        config = dit_config_of(read_json_file(config_json));
    } catch (const Error& e) {
        throw Error(e.code(), config_json + ": " + e.what());
    }
    models::SpecCollector specs;
    dit::DitWeights w;
    w.visit(specs, config, at::kBFloat16);
    return specs.parameter_count();
}

namespace {

// "int8 per-channel (160 block matrices), bf16 otherwise" for the checkpoint at `path`.
std::string weights_format(const std::string& path) {
    return models::describe_quantization(io::Checkpoint::open(path)).summary();
}

// A canter model folder: the manifest's parts, and each DiT's architecture.
std::string describe_model(const std::string& dir) {
    const auto m = pipeline::ModelManifest::load(dir);
    const auto manifest = read_json_file((std::filesystem::path(m.dir) / pipeline::kManifestFileName).string());
    const std::string quantization = manifest.value("quantization", "");
    std::ostringstream os;
    os << m.dir << ": canter model '" << m.name << "'" << (m.demo ? " (untrained demo model)" : "") << "\n";
    os << "resolutions: ";
    for (const auto& r : m.resolutions()) os << r << " ";
    os << "\n";
    for (const auto& line : m.describe()) os << "  " << line << "\n";
    for (const auto* ref : {&m.dit_distill, &m.dit_base, &m.dit_sr_540p, &m.dit_sr_1080p}) {
        if (!*ref || (*ref)->path.empty()) continue;
        auto config = dit::DitConfig::from_model_dir((*ref)->path);
        if (!(*ref)->arch.is_null()) config.apply((*ref)->arch);
        os << (*ref)->role << ": ";
        describe_dit_config(os, config);
        os << "  weights: " << weights_format((*ref)->weights.empty() ? (*ref)->path : (*ref)->weights) << "\n";
    }
    if (m.text_encoder) os << "text_encoder weights: " << weights_format(m.text_encoder->path) << "\n";
    if (!quantization.empty()) os << "quantization: " << quantization << " (canter quantize)\n";
    return os.str();
}

}  // namespace

std::string inspect_path(const std::string& path) {
    std::ostringstream os;
    std::error_code ec;
    CANTER_CHECK(fs::exists(path, ec), NotFound, path << ": no such file or directory");
    const bool is_dir = fs::is_directory(path, ec);
    if (is_dir && fs::exists(fs::path(path) / pipeline::kManifestFileName)) return describe_model(path);
    if (!is_dir && fs::path(path).extension() == ".json" &&
        path.size() > 11 && path.substr(path.size() - 11) != ".index.json") {
        os << path << ": DiT config\n";
        describe_dit_config(os, dit_config_of(read_json_file(path)));
        return os.str();
    }
    bool has_weights = !is_dir || fs::exists(fs::path(path) / "model.safetensors") ||
                       fs::exists(fs::path(path) / "model.safetensors.index.json");
    if (has_weights) {
        io::Checkpoint ck = io::Checkpoint::open(path);
        int64_t total = 0;
        os << ck.source() << ": " << ck.size() << " tensors\n";
        for (const auto& name : ck.names()) {
            const auto& info = ck.info(name);
            os << "  " << std::left << std::setw(56) << name << " " << std::setw(8)
               << io::dtype_name(info.dtype) << " " << shape_str(info.shape) << "\n";
            total += info.numel();
        }
        os << "total elements: " << with_thousands(total) << "\n";
        os << "weights: " << models::describe_quantization(ck).summary() << "\n";
    }
    if (is_dir && fs::exists(fs::path(path) / "config.json")) {
        const auto j = read_json_file((fs::path(path) / "config.json").string());
        if (j.contains("arch_config") || !has_weights) {
            os << "config.json: ";
            describe_dit_config(os, dit_config_of(j));
        }
    }
    return os.str();
}

}  // namespace canter
