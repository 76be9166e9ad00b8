// Real-configuration video decoders at 540p (896x512, 5 s = 32 latent frames) on this CPU, with
// random weights: time and peak resident memory.
//
// A full 5 s decode at real width takes far longer on 2 CPU cores than a benchmark should, so
// each decoder runs a prefix of the clip and the total is extrapolated from the measured parts:
//   * Wan2.2 (frame-wise causal decode): t(1 latent frame) and t(k frames); the per-frame cost
//     (t(k) - t(1)) / (k - 1) is constant after frame 0 (the cache has a fixed size), so
//     total = t(1) + 31 * per-frame.
//   * TurboVAED (7/7 sliding windows): the first window and one middle window are decoded
//     exactly as the full decode does; total = first + (windows - 1) * middle.
// Peak memory is the process's maximum RSS (getrusage) while decoding: it is set by one frame /
// one window, so the prefix reaches the full run's peak, except the output clip itself, which
// the full run accumulates (reported separately: F x 3 x H x W fp32).
//
// Usage: canter_bench_vae_decode --decoder wan|turbo [--frames K (wan, default 2)]
//        [--tile N (latent tile size, 0 = untiled)] [--height 512 --width 896]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/resource.h>

#include "canter/version.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "models/wan_vae/wan_vae.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_gib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is KiB on Linux
}

// TurboV3-Wan22-TinyShallow_7_7 (spec encoders.md §2.1, pipeline.md §1.6).
canter::turbo_vaed::TurboVaedConfig real_turbo_config() {
    return canter::turbo_vaed::TurboVaedConfig::from_json({{"latent_channels", 48},
                                                           {"out_channels", 3},
                                                           {"decoder_block_out_channels", {64, 128, 256, 512}},
                                                           {"decoder_layers_per_block", {2, 2, 2, 3, 3}},
                                                           {"decoder_spatio_temporal_scaling", {false, true, true, true}},
                                                           {"decoder_spatio_only", {false, true, false, false}},
                                                           {"decoder_is_dw_conv", {false, false, false, false, false}},
                                                           {"decoder_dw_kernel_size", 5},
                                                           {"decoder_causal", false},
                                                           {"patch_size", 2},
                                                           {"patch_size_t", 1},
                                                           {"resnet_norm_eps", 1e-6},
                                                           {"spatial_compression_ratio", 16},
                                                           {"temporal_compression_ratio", 4},
                                                           {"first_chunk_size", 7},
                                                           {"step_size", 7},
                                                           {"use_unpatchify", true}});
}

}  // namespace

int main(int argc, char** argv) {
    std::string decoder = "wan";
    int frames = 2;
    int64_t tile = 0, height = 512, width = 896;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--decoder") decoder = v;
        else if (a == "--frames") frames = std::atoi(v.c_str());
        else if (a == "--tile") tile = std::atoll(v.c_str());
        else if (a == "--height") height = std::atoll(v.c_str());
        else if (a == "--width") width = std::atoll(v.c_str());
        else {
            std::fprintf(stderr, "unknown flag %s\n", a.c_str());
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress survives a kill or a timeout
    canter::set_cpu_threads(0);  // every core (ATen's default here can be 1)
    c10::InferenceMode guard;
    const int64_t T = 32, h = height / 16, w = width / 16;  // 5 s: A = 126, T = 32, F = 125
    const int64_t F = 4 * (T - 1) + 1;
    const double clip_gib = static_cast<double>(F) * 3 * height * width * 4 / (1 << 30);
    std::printf("# %s decode, real config, random weights, %lldx%lld, 5 s (T=%lld latent frames -> %lld frames)\n",
                decoder.c_str(), static_cast<long long>(width), static_cast<long long>(height),
                static_cast<long long>(T), static_cast<long long>(F));
    std::printf("backend: %s; tile: %lld\n\n", canter::backend_description(), static_cast<long long>(tile));
    auto latent = [&](int64_t n) { return at::randn({1, 48, n, h, w}); };

    if (decoder == "wan") {
        canter::wan_vae::WanVaeOptions o;
        o.load_encoder = false;
        o.tile_latent_size = tile;
        const auto t_load = Clock::now();
        const auto vae = canter::wan_vae::WanVae::random(canter::wan_vae::WanVaeConfig{}, o, 1);
        std::printf("weights ready in %.1f s, RSS %.2f GiB\n", seconds_since(t_load), peak_rss_gib());
        auto t0 = Clock::now();
        vae.decode(latent(1));
        const double t1 = seconds_since(t0);
        std::printf("1 latent frame: %.1f s, peak RSS %.2f GiB\n", t1, peak_rss_gib());
        t0 = Clock::now();
        vae.decode(latent(frames));
        const double tk = seconds_since(t0);
        std::printf("%d latent frames: %.1f s, peak RSS %.2f GiB\n", frames, tk, peak_rss_gib());
        const double per_frame = (tk - t1) / (frames - 1);
        std::printf("\n| decoder | measured | per latent frame | est. 5 s total | peak RSS (measured) | + output clip |\n"
                    "|---|---|---|---|---|---|\n| Wan2.2 | %d frames %.1f s | %.1f s | %.0f s (%.1f min) | %.2f GiB | %.2f GiB |\n",
                    frames, tk, per_frame, t1 + (T - 1) * per_frame, (t1 + (T - 1) * per_frame) / 60, peak_rss_gib(),
                    clip_gib);
    } else if (decoder == "turbo") {
        canter::turbo_vaed::TurboVaedOptions o;
        o.tile_latent_size = tile;
        const auto t_load = Clock::now();
        const auto vae = canter::turbo_vaed::TurboVaed::random(real_turbo_config(), o, 1);
        std::printf("weights ready in %.1f s, RSS %.2f GiB\n", seconds_since(t_load), peak_rss_gib());
        const auto plan = vae.plan(T);
        const int64_t windows = static_cast<int64_t>(plan.calls.size());
        // First window: latents [0, F0 + 1) in first-chunk mode; a middle window: S + 2 latents.
        const int64_t f0 = vae.config().first_chunk_size, s = vae.config().step_size;
        auto t0 = Clock::now();
        vae.decode_window(vae.denormalize(latent(f0 + 1)), true);
        const double first = seconds_since(t0);
        std::printf("first window (%lld latents): %.1f s, peak RSS %.2f GiB\n", static_cast<long long>(f0 + 1), first,
                    peak_rss_gib());
        t0 = Clock::now();
        vae.decode_window(vae.denormalize(latent(s + 2)), false);
        const double middle = seconds_since(t0);
        std::printf("middle window (%lld latents): %.1f s, peak RSS %.2f GiB\n", static_cast<long long>(s + 2), middle,
                    peak_rss_gib());
        const double total = first + (windows - 1) * middle;
        std::printf("\n| decoder | windows | first | middle | est. 5 s total | peak RSS (measured) | + output clip |\n"
                    "|---|---|---|---|---|---|---|\n| TurboVAED | %lld | %.1f s | %.1f s | %.0f s (%.1f min) | %.2f GiB | %.2f GiB |\n",
                    static_cast<long long>(windows), first, middle, total, total / 60, peak_rss_gib(), clip_gib);
    } else {
        std::fprintf(stderr, "--decoder must be wan or turbo\n");
        return 2;
    }
    return 0;
}
