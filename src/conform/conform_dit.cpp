// conform dit: one DiT forward on a packed case (golden/dit/case_*.safetensors).
#include <ATen/ATen.h>

#include "conform/conform_internal.h"
#include "models/dit/dit_model.h"
#include "pipeline/packing.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_dit(const ConformRequest& request, const CaseFile& c) {
    dit::DitConfig config = dit::DitConfig::from_model_dir(request.model);
    const nlohmann::json overrides = c.meta("arch_overrides", nlohmann::json::object());
    if (!overrides.is_null()) config.apply(overrides);
    config.validate();
    const auto proxy = pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config", nlohmann::json::object()));

    dit::DitOptions options;
    options.device = device_of(request);
    options.precision = dit::parse_precision(request.precision);
    const auto model = dit::DitModel::load(request.model, config, options);

    // x_t is the video actually handed to packing (TI2V: frame 0 already replaced).
    const at::Tensor video = c.has("input.x_t") ? c.input("input.x_t") : c.input("input.video_latent");
    const at::Tensor text = c.input("input.txt_feat");
    const int64_t text_len = c.has("input.txt_feat_len") ? c.input("input.txt_feat_len").item<int64_t>()
                                                         : text.size(1);
    const auto packed = pipeline::pack(video, c.input("input.audio_latent"), text, text_len, proxy);

    TensorMap out;
    const int64_t L = packed.seq.length();
    out["packed.x"] = packed.padded_tokens(std::max({packed.seq.video.size(1), packed.seq.audio.size(1),
                                                     packed.seq.text.size(1)}));
    out["packed.coords_mapping"] = packed.seq.coords;
    out["packed.modality_mapping"] = packed.modality;
    out["packed.cu_seqlens"] = at::tensor(std::vector<int32_t>{0, int32_t(L)}, at::kInt);
    out["packed.max_seqlen"] = at::tensor(std::vector<int32_t>{int32_t(L)}, at::kInt);
    out["packed.local_q_ranges"] = packed.local_q_ranges;
    out["packed.local_k_ranges"] = packed.local_k_ranges;

    const auto result = model.forward(packed.seq, [&](const std::string& name, const at::Tensor& t) {
        out[name] = t.to(at::kCPU).clone();
    });
    const int64_t nv = packed.seq.num_video(), na = packed.seq.num_audio();
    at::Tensor raw = at::zeros({L, std::max(config.video_in_channels, config.audio_in_channels)}, at::kFloat);
    raw.narrow(0, 0, nv).copy_(result.video);
    raw.narrow(0, nv, na).narrow(1, 0, config.audio_in_channels).copy_(result.audio);
    out["raw_out"] = raw;
    out["video_out"] = pipeline::unpack_video(result.video.cpu(), packed.geometry, proxy);
    out["audio_out"] = pipeline::unpack_audio(result.audio.cpu(), packed.geometry);
    return out;
}

}  // namespace canter::conform
