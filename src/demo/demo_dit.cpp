#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iomanip>

#include "canter/demo.h"
#include "canter/version.h"
#include "models/dit/dit_model.h"
#include "pipeline/packing.h"
#include "tensor/compat.h"
#include "util/check.h"

namespace canter {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void run_demo_forward(const DemoOptions& options, std::ostream& out) {
    CANTER_CHECK(options.seconds >= 1 && options.seconds <= 15, InvalidArgument,
                 "--seconds must be 1..15, got " << options.seconds);
    tensor::InferenceGuard guard;
    // Same structure as the real model (sandwich layers, gelu7 + swiglu7, GQA, gating),
    // narrower and shallower so it runs in seconds on two cores.
    const auto config = dit::DitConfig::from_json({{"num_layers", 4}, {"hidden_size", 256}, {"head_dim", 64},
                                                   {"num_query_groups", 2}, {"mm_layers", {0, 3}},
                                                   {"gelu7_layers", {0}}});
    // 256p base-stage geometry (16:9 -> 448x256 px): latent 16x28, T = 25*s/4 + 1 frames,
    // 25*s + 1 audio latent frames; a 32-token prompt.
    const int64_t T = 25 * options.seconds / 4 + 1, A = 25 * options.seconds + 1;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    at::Tensor video = at::randn({1, 48, T, 16, 28}, gen);
    at::Tensor audio = at::randn({1, A, 64}, gen);
    at::Tensor text = at::randn({1, 32, 3584}, gen).to(at::kHalf).to(at::kFloat);
    const auto packed = pipeline::pack(video, audio, text, 32, pipeline::DataProxyConfig{});

    out << "canter " << kVersion << " (" << backend_description() << ")\n";
    out << "built-in demo DiT, random weights (seed " << options.seed << "): " << config.summary() << "\n";
    out << "input: " << options.seconds << " s clip at 256p 16:9 -> video latent " << video.sizes()
        << ", audio latent " << audio.sizes() << ", 32 text tokens\n";
    out << "packed sequence: " << packed.seq.num_video() << " video + " << packed.seq.num_audio()
        << " audio + " << packed.seq.num_text() << " text = " << packed.seq.length() << " tokens\n";

    dit::DitOutput results[2];
    for (auto precision : {dit::Precision::kFP32, dit::Precision::kBF16}) {
        dit::DitOptions opts;
        opts.precision = precision;
        const auto model = dit::DitModel::random(config, opts, options.seed);
        const auto t0 = std::chrono::steady_clock::now();
        auto& r = results[precision == dit::Precision::kBF16];
        r = model.forward(packed.seq);
        out << "forward (" << dit::precision_name(precision) << "): " << std::fixed << std::setprecision(2)
            << seconds_since(t0) << " s\n";
    }
    const at::Tensor v = pipeline::unpack_video(results[1].video, packed.geometry, pipeline::DataProxyConfig{});
    const at::Tensor a = pipeline::unpack_audio(results[1].audio, packed.geometry);
    const double diff = std::max((results[0].video - results[1].video).abs().max().item<double>(),
                                 (results[0].audio - results[1].audio).abs().max().item<double>());
    out << "velocity: video " << v.sizes() << " (std " << std::setprecision(3) << v.std().item<double>()
        << "), audio " << a.sizes() << " (std " << a.std().item<double>() << ")\n";
    out << "bf16 vs fp32 max abs difference: " << std::setprecision(4) << diff << "\n";
    CANTER_CHECK(std::isfinite(diff), Internal, "demo forward produced non-finite values");
}

}  // namespace canter
