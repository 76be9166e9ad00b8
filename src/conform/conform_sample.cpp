// conform sample: a whole sampling stage on a case (golden/sampling/*.safetensors). Base cases
// (cfg_number, steps, shift) start from input.latent_*; SR cases (__metadata__.stage == "sr")
// start from the base-stage result input.br_latent_*. Per-step tensors are recorded under
// step.{i}.*, the reference's own noise draws (ddim_noise.*, sr_noise.*) are replayed.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conform/conform_internal.h"
#include "models/dit/dit_model.h"
#include "pipeline/packing.h"
#include "pipeline/samplers/flow_schedule.h"
#include "pipeline/stage.h"
#include "util/check.h"

namespace canter::conform {
namespace {

using nlohmann::json;

int64_t meta_int(const CaseFile& c, const std::string& key, int64_t fallback) {
    const json v = c.meta(key);
    if (v.is_null()) return fallback;
    CANTER_CHECK(v.is_number_integer(), InvalidArgument,
                 c.path() << ": __metadata__." << key << " must be an integer, got " << v.dump());
    return v.get<int64_t>();
}

double meta_double(const CaseFile& c, const std::string& key, double fallback) {
    const json v = c.meta(key);
    if (v.is_null()) return fallback;
    CANTER_CHECK(v.is_number(), InvalidArgument,
                 c.path() << ": __metadata__." << key << " must be a number, got " << v.dump());
    return v.get<double>();
}

bool meta_bool(const CaseFile& c, const std::string& key, bool fallback) {
    const json v = c.meta(key);
    if (v.is_null()) return fallback;
    CANTER_CHECK(
        v.is_boolean(), InvalidArgument,
        c.path() << ": __metadata__." << key << " must be true or false, got " << v.dump());
    return v.get<bool>();
}

// Case tensors may be read-only file mappings: the samplers get private copies.
at::Tensor input_copy(const CaseFile& c, const std::string& name) {
    return c.input(name).to(at::kFloat).clone();
}

pipeline::TextCondition text_input(const CaseFile& c, const std::string& name) {
    pipeline::TextCondition t;
    t.features = input_copy(c, name);
    t.length = c.has(name + "_len") ? c.input(name + "_len").item<int64_t>() : t.features.size(1);
    return t;
}

dit::DitModel load_model(const ConformRequest& request, const CaseFile& c) {
    dit::DitConfig config = dit::DitConfig::from_model_dir(request.model);
    const json overrides = c.meta("arch_overrides", json::object());
    if (!overrides.is_null()) config.apply(overrides);
    config.validate();
    dit::DitOptions options;
    options.device = device_of(request);
    options.precision = dit::parse_precision(request.precision);
    return dit::DitModel::load(request.model, config, options);
}

void read_guidance(const CaseFile& c, pipeline::GuidanceConfig* g) {
    g->video_scale = meta_double(c, "video_txt_guidance_scale", g->video_scale);
    g->audio_scale = meta_double(c, "audio_txt_guidance_scale", g->audio_scale);
    g->sr_video_scale = meta_double(c, "sr_video_txt_guidance_scale", g->sr_video_scale);
    g->use_cfg_trick = meta_bool(c, "use_cfg_trick", g->use_cfg_trick);
    g->cfg_trick_start_frame = meta_int(c, "cfg_trick_start_frame", g->cfg_trick_start_frame);
    g->cfg_trick_value = meta_double(c, "cfg_trick_value", g->cfg_trick_value);
}

// Writes the tensors of each step under the reference names.
pipeline::StepCallback recorder(TensorMap* out) {
    return [out](const pipeline::StepRecord& r) {
        const std::string p = "step." + std::to_string(r.index) + ".";
        auto put = [&](const char* name, const at::Tensor& t) {
            if (t.defined()) (*out)[p + name] = t.to(at::kCPU).contiguous();
        };
        put("model_in_video", r.model_in_video);
        put("model_in_audio", r.model_in_audio);
        put("v_cond_video", r.v_cond_video);
        put("v_cond_audio", r.v_cond_audio);
        put("v_uncond_video", r.v_uncond_video);
        put("v_uncond_audio", r.v_uncond_audio);
        put("v_cfg_video", r.v_cfg_video);
        put("v_cfg_audio", r.v_cfg_audio);
        put("latent_video_after", r.latent_video_after);
        put("latent_audio_after", r.latent_audio_after);
        return true;
    };
}

// Replays the case's own draws when it has them; otherwise a seeded generator.
std::unique_ptr<pipeline::NoiseSource> noise_for(const CaseFile& c,
                                                 const std::vector<std::string>& names,
                                                 const std::string& seed_key) {
    std::map<std::string, at::Tensor> given;
    for (const auto& n : names)
        if (c.has(n)) given[n] = c.input(n);
    if (!given.empty()) return std::make_unique<pipeline::TensorNoise>(std::move(given));
    return std::make_unique<pipeline::SeededNoise>(static_cast<uint64_t>(meta_int(c, seed_key, 0)));
}

void write_schedule(const pipeline::StageConfig& sc, TensorMap* out) {
    const auto schedule = pipeline::flow_schedule(sc.steps, sc.shift);
    (*out)["sigmas"] = schedule.sigmas_tensor();
    (*out)["timesteps"] = schedule.timesteps_tensor();
}

TensorMap run_base(const ConformRequest& request, const CaseFile& c) {
    const auto model = load_model(request, c);
    auto sc = pipeline::StageConfig::base(static_cast<int>(meta_int(c, "steps", 8)),
                                          static_cast<int>(meta_int(c, "cfg_number", 1)));
    sc.shift = meta_double(c, "shift", sc.shift);
    sc.use_sde = meta_bool(c, "using_sde_flag", false);
    sc.proxy = pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config", json::object()));
    read_guidance(c, &sc.guidance);

    pipeline::StageConditioning cond;
    cond.text = text_input(c, "input.context");
    if (c.has("input.context_null")) cond.negative_text = text_input(c, "input.context_null");
    if (c.has("input.image_latent")) cond.image_latent = input_copy(c, "input.image_latent");
    const pipeline::StageLatents start{input_copy(c, "input.latent_video"),
                                       input_copy(c, "input.latent_audio")};

    std::vector<std::string> noise_names;
    for (int i = 0; i < sc.steps; ++i)
        for (const char* m : {"video", "audio"})
            noise_names.push_back("ddim_noise." + std::to_string(i) + "." + m);
    auto noise = noise_for(c, noise_names, "loop_rng_seed");

    TensorMap out;
    write_schedule(sc, &out);
    const auto result = pipeline::run_stage(model, sc, cond, start, *noise, recorder(&out));
    out["final.latent_video"] = result.video.to(at::kCPU);
    out["final.latent_audio"] = result.audio.to(at::kCPU);
    return out;
}

// SR latent size: sr_latent_thw if given, else from the pixel size (px // 16 // 2 * 2).
std::pair<int64_t, int64_t> sr_latent_hw(const CaseFile& c) {
    const json thw = c.meta("sr_latent_thw");
    if (!thw.is_null()) {
        CANTER_CHECK(
            thw.is_array() && thw.size() == 3 && thw[1].is_number_integer() &&
                thw[2].is_number_integer(),
            InvalidArgument,
            c.path() << ": __metadata__.sr_latent_thw must be [T, H, W], got " << thw.dump());
        return {thw[1].get<int64_t>(), thw[2].get<int64_t>()};
    }
    json px = c.meta("sr_size_px_effective");
    if (px.is_null()) px = c.meta("sr_size_px");
    CANTER_CHECK(
        px.is_array() && px.size() == 2 && px[0].is_number_integer() && px[1].is_number_integer(),
        InvalidArgument,
        c.path() << ": SR case needs __metadata__.sr_latent_thw or sr_size_px = [height, width]");
    return {pipeline::latent_size_for_pixels(px[0].get<int64_t>()),
            pipeline::latent_size_for_pixels(px[1].get<int64_t>())};
}

TensorMap run_sr(const ConformRequest& request, const CaseFile& c) {
    const auto model = load_model(request, c);
    auto sc =
        pipeline::StageConfig::super_resolution(static_cast<int>(meta_int(c, "steps", 5)),
                                                static_cast<int>(meta_int(c, "sr_cfg_number", 2)));
    sc.shift = meta_double(c, "shift", sc.shift);
    const json proxy = c.meta("data_proxy_config");
    if (!proxy.is_null()) sc.proxy = pipeline::DataProxyConfig::from_json(proxy);
    read_guidance(c, &sc.guidance);
    pipeline::SrRenoiseConfig renoise;
    renoise.noise_value = static_cast<int>(meta_int(c, "noise_value", renoise.noise_value));
    renoise.audio_noise_scale = meta_double(c, "sr_audio_noise_scale", renoise.audio_noise_scale);

    pipeline::StageConditioning cond;
    cond.text = text_input(c, "input.context");
    if (c.has("input.context_null")) cond.negative_text = text_input(c, "input.context_null");
    if (c.has("input.sr_image_latent")) cond.image_latent = input_copy(c, "input.sr_image_latent");
    const pipeline::StageLatents base{input_copy(c, "input.br_latent_video"),
                                      input_copy(c, "input.br_latent_audio")};
    const auto [sr_h, sr_w] = sr_latent_hw(c);
    auto noise = noise_for(c, {"sr_noise.video", "sr_noise.audio"}, "sr_seed");

    TensorMap out;
    const auto start = pipeline::prepare_sr_start(base, sr_h, sr_w, renoise, *noise);
    out["noise_sigma"] = at::full({1}, start.noise_coefficient, at::kFloat);
    out["upsampled_latent_video"] = start.upsampled_video;
    out["start_latent_video"] = start.latents.video;
    out["start_latent_audio"] = start.latents.audio;
    write_schedule(sc, &out);
    const auto result = pipeline::run_stage(model, sc, cond, start.latents, *noise, recorder(&out));
    out["final.latent_video"] = result.video.to(at::kCPU);
    out["final.latent_audio"] = base.audio;  // SR keeps the base-stage audio
    return out;
}

}  // namespace

TensorMap run_sample(const ConformRequest& request, const CaseFile& c) {
    const json stage = c.meta("stage");
    if (!stage.is_null()) {
        CANTER_CHECK(
            stage.is_string() && (stage == "sr" || stage == "base"), InvalidArgument,
            c.path() << ": __metadata__.stage must be \"sr\" or \"base\", got " << stage.dump());
        if (stage == "sr") return run_sr(request, c);
    }
    return run_base(request, c);
}

}  // namespace canter::conform
