// Shared pieces of the conformance runners (one file per kind).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "canter/conform.h"
#include "io/safetensors.h"

namespace canter::conform {

using TensorMap = std::map<std::string, at::Tensor>;

// A case file: input tensors and parsed metadata, with errors that name the case.
class CaseFile {
public:
    explicit CaseFile(const std::string& path);
    at::Tensor input(const std::string& name) const;  // throws naming the case and tensor
    bool has(const std::string& name) const;
    std::vector<std::string> names() const;  // every tensor of the case, sorted
    // __metadata__[key] parsed as JSON (strings holding JSON are parsed), or `fallback`.
    nlohmann::json meta(const std::string& key, const nlohmann::json& fallback = nullptr) const;
    const std::string& path() const { return file_->path(); }

private:
    std::shared_ptr<io::SafetensorsFile> file_;
};

// The request's device (tensor::parse_device: a bad name or an unusable CUDA device throws).
c10::Device device_of(const ConformRequest& request);

TensorMap run_dit(const ConformRequest& request, const CaseFile& c);
TensorMap run_sample(const ConformRequest& request, const CaseFile& c);     // conform_sample.cpp
TensorMap run_wan_vae(const ConformRequest& request, const CaseFile& c);    // conform_wan_vae.cpp
TensorMap run_turbo_vaed(const ConformRequest& request, const CaseFile& c); // conform_turbo_vaed.cpp
TensorMap run_audio_vae(const ConformRequest& request, const CaseFile& c);  // conform_audio_vae.cpp
TensorMap run_text_encoder(const ConformRequest& request, const CaseFile& c);  // conform_t5gemma.cpp
TensorMap run_tokenizer(const ConformRequest& request, const CaseFile& c);     // conform_t5gemma.cpp

}  // namespace canter::conform
