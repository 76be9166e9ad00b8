// The model directory's manifest (`canter.json`): which folders hold the DiTs (distilled /
// base / SR 540p / SR 1080p), the text encoder + tokenizer and the three autoencoders.
// Paths are relative to the manifest's folder; every part is checked up front and all missing
// parts are reported in one error, so a half-downloaded model never loads partially.
//
// {
//   "format": "canter-model", "version": 1, "name": "daVinci-MagiHuman",
//   "dit": { "distill": "distill", "base": "base", "sr_540p": "540p_sr",
//            "sr_1080p": {"path": "1080p_sr", "arch": {"local_attn_layers": [...]}} },
//   "text_encoder": "t5gemma-9b-9b-ul2",        (config.json + model*.safetensors)
//   "tokenizer": "t5gemma-9b-9b-ul2",           (tokenizer.model + tokenizer_config.json)
//   "video_vae": "Wan2.2-TI2V-5B",              (image encoder; decoder when no turbo_vaed)
//   "turbo_vaed": {"config": "turbo_vae/TurboV3-Wan22-TinyShallow_7_7.json",
//                  "weights": "turbo_vae/checkpoint-340000.safetensors"},
//   "audio_vae": "stable-audio-open-1.0",       (model_config.json + model.safetensors)
//   "demo": false
// }
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace canter::pipeline {

constexpr const char* kManifestFileName = "canter.json";

struct ComponentRef {
    std::string role;     // "dit.distill", "text_encoder", ...
    std::string path;     // absolute folder (or file) of the component
    std::string config;   // absolute config file where the component has a separate one
    std::string weights;  // absolute weights file where given separately
    nlohmann::json arch;  // DiT architecture overrides (e.g. local_attn_layers), may be null
    std::string describe() const;
};

struct ModelManifest {
    std::string dir;  // absolute folder of canter.json
    std::string name;
    bool demo = false;
    std::optional<ComponentRef> dit_distill, dit_base, dit_sr_540p, dit_sr_1080p;
    std::optional<ComponentRef> text_encoder, tokenizer, video_vae, turbo_vaed, audio_vae;
    std::string negative_prompt;  // empty: upstream's built-in negative prompt

    // Reads `<dir>/canter.json` (or the file itself). Throws kNotFound listing every missing
    // part (one per line), kInvalidArgument/kCorruption naming the bad field.
    static ModelManifest load(const std::string& path);
    // Resolutions this model can produce: 256p always, 540p/1080p with their SR DiT.
    std::vector<std::string> resolutions() const;
    std::vector<std::string> describe() const;  // one line per component
};

// The list of the 1080p SR checkpoint's local-attention layers (pipeline.md §1.2); upstream
// binds it to an environment switch, canter binds it to the checkpoint role.
std::vector<int> sr_1080p_local_attn_layers();

}  // namespace canter::pipeline
