#include "canter/conform.h"

#include <algorithm>
#include <chrono>

#include "conform/conform_internal.h"
#include "tensor/compat.h"
#include "tensor/device_info.h"
#include "util/check.h"

namespace canter {

namespace conform {

CaseFile::CaseFile(const std::string& path) : file_(io::SafetensorsFile::open(path)) {}

bool CaseFile::has(const std::string& name) const { return file_->contains(name); }

std::vector<std::string> CaseFile::names() const {
    std::vector<std::string> out;
    for (const auto& info : file_->tensors()) out.push_back(info.name);
    return out;
}

at::Tensor CaseFile::input(const std::string& name) const {
    CANTER_CHECK(file_->contains(name), NotFound,
                 file_->path() << ": case has no tensor '" << name << "'");
    return file_->tensor(name);
}

nlohmann::json CaseFile::meta(const std::string& key, const nlohmann::json& fallback) const {
    auto it = file_->metadata().find(key);
    if (it == file_->metadata().end()) return fallback;
    try {
        return nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
        return it->second;  // a plain string value
    }
}

c10::Device device_of(const ConformRequest& request) {
    return tensor::parse_device(request.device, "--device");
}

}  // namespace conform

std::vector<std::string> conformance_kinds() {
    return {"dit", "sample", "wan-vae", "turbo-vaed", "audio-vae", "text-encoder", "tokenizer"};
}

ConformReport run_conformance(const ConformRequest& request) {
    CANTER_CHECK(request.precision == "fp32" || request.precision == "bf16", InvalidArgument,
                 "--precision must be fp32 or bf16, got '" << request.precision << "'");
    CANTER_CHECK(!request.model.empty(), InvalidArgument, "--model is required");
    CANTER_CHECK(!request.case_path.empty(), InvalidArgument, "--case is required");
    CANTER_CHECK(!request.out_path.empty(), InvalidArgument, "--out is required");
    const auto kinds = conformance_kinds();
    if (std::find(kinds.begin(), kinds.end(), request.kind) == kinds.end()) {
        std::string list;
        for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
        CANTER_THROW(InvalidArgument, "unknown conformance kind '" << request.kind << "' (this build supports: "
                                                                   << list << ")");
    }
    // The fp32 contract is plain fp32: TF32 matmuls/convolutions drift by ~1e-3.
    if (conform::device_of(request).is_cuda() && request.precision == "fp32") tensor::disable_tf32();
    tensor::InferenceGuard guard;
    const auto t0 = std::chrono::steady_clock::now();
    conform::CaseFile c(request.case_path);
    conform::TensorMap out;
    if (request.kind == "dit") {
        out = conform::run_dit(request, c);
    } else if (request.kind == "sample") {
        out = conform::run_sample(request, c);
    } else if (request.kind == "wan-vae") {
        out = conform::run_wan_vae(request, c);
    } else if (request.kind == "turbo-vaed") {
        out = conform::run_turbo_vaed(request, c);
    } else if (request.kind == "audio-vae") {
        out = conform::run_audio_vae(request, c);
    } else if (request.kind == "text-encoder") {
        out = conform::run_text_encoder(request, c);
    } else if (request.kind == "tokenizer") {
        out = conform::run_tokenizer(request, c);
    } else {
        CANTER_THROW(Internal, "conformance kind '" << request.kind << "' has no runner");
    }
    for (auto& [name, t] : out) t = t.cpu();
    io::write_safetensors(request.out_path, out,
                          {{"kind", request.kind}, {"precision", request.precision}, {"device", request.device},
                           {"case", request.case_path}, {"model", request.model}});
    ConformReport report;
    for (const auto& [name, t] : out) report.written.push_back(name);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

}  // namespace canter
