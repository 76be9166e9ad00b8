// Architectures make-test-model and `random:` models can build: the released
// daVinci-MagiHuman distilled model at full size, and a tiny one with the demo model's widths
// (src/pipeline/demo_model.cpp) for tests. Only configurations live here; test_model_plan.h
// turns them into files and tensors.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "models/dit/dit_config.h"

namespace canter::pipeline {

struct TestModelPreset {
    std::string name;
    std::string description;
    // The DiT architecture and, when not the real one, the `arch_config` its config.json gets
    // (null: the released DiT folders ship no config.json and canter uses DitConfig::real()).
    dit::DitConfig dit;
    nlohmann::json dit_arch;
    std::vector<int> sr_1080p_local_attn_layers;  // manifest arch override of the 1080p SR DiT
    nlohmann::json t5gemma_config;    // the text encoder's config.json (HF T5Gemma layout)
    nlohmann::json wan_config;        // Wan2.2 VAE config.json; null: none (real defaults, as shipped)
    nlohmann::json turbo_vaed_config; // TurboVAED JSON
    nlohmann::json audio_config;      // Stable Audio model_config.json
};

// Throws InvalidArgument naming `name` and the known presets.
const TestModelPreset& find_test_model_preset(const std::string& name);
std::vector<std::string> test_model_preset_names();

}  // namespace canter::pipeline
