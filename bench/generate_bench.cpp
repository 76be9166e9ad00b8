// End-to-end generation on the built-in demo model: time per stage (text encode, each denoising
// step, SR, video decode, audio decode, mux) as the engine reports them, for a few clip shapes.
// The demo model has the real architecture at toy width, so these figures measure the pipeline
// around the networks (packing, samplers, decoders' structure, resampling, muxing), not the 15B
// DiT; bench/RESULTS.md extrapolates the real-width DiT step from canter_bench_dit_layer.
//
// Usage: canter_bench_generate [--model DIR] [--reps N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "canter/engine.h"
#include "canter/version.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
    const char* name;
    int seconds;
    const char* resolution;
    bool image;
};

}  // namespace

int main(int argc, char** argv) {
    std::string model;
    int reps = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--model") model = argv[i + 1];
        else if (a == "--reps") reps = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "unknown flag %s\n", a.c_str());
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress survives a kill or a timeout
    namespace fs = std::filesystem;
    const fs::path tmp = fs::temp_directory_path() / ("canter-bench-generate-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    if (model.empty()) {
        model = (tmp / "demo").string();
        canter::make_demo_model(model);
    }
    canter::EngineOptions options;
    options.model_dir = model;
    const auto t_open = Clock::now();
    auto engine = canter::Engine::open(options);
    std::printf("# canter generate, model %s (%s)\n", engine->info().name.c_str(),
                engine->info().demo ? "untrained demo model" : "real model");
    std::printf("backend: %s; engine open %.2f s\n\n", canter::backend_description(),
                std::chrono::duration<double>(Clock::now() - t_open).count());
    std::printf("| clip | total | text | base (8 steps) | per step (median) | sr | decode | audio | mux |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    for (const Case& c : {Case{"5 s 256p 16:9 T2V", 5, "256p", false}, Case{"10 s 256p 16:9 T2V", 10, "256p", false},
                          Case{"2 s 540p 16:9 T2V", 2, "540p", false}}) {
        for (int r = 0; r < reps; ++r) {
            canter::GenerateRequest req;
            req.prompt = "A woman in a yellow raincoat smiles at the camera and says hello.";
            req.seconds = c.seconds;
            req.resolution = c.resolution;
            req.output_path = (tmp / "bench.mp4").string();
            std::vector<double> step_times;
            double last_step_at = -1;
            const auto t0 = Clock::now();
            const auto result = engine->generate(req, [&](const canter::Progress& p) {
                if (p.stage == "base" && p.step == 0) last_step_at = p.elapsed_s;
                if (p.stage == "base" && p.step > 0) {
                    step_times.push_back(p.elapsed_s - last_step_at);
                    last_step_at = p.elapsed_s;
                }
            });
            const double total = std::chrono::duration<double>(Clock::now() - t0).count();
            std::sort(step_times.begin(), step_times.end());
            const double median = step_times.empty() ? 0 : step_times[step_times.size() / 2];
            auto t = [&](const char* k) {
                auto it = result.timings_s.find(k);
                return it == result.timings_s.end() ? 0.0 : it->second;
            };
            std::printf("| %s | %.1f s | %.2f s | %.1f s | %.2f s | %.1f s | %.1f s | %.2f s | %.2f s |\n", c.name,
                        total, t("text"), t("base"), median, t("sr"), t("decode"), t("audio"), t("mux"));
            std::fflush(stdout);
        }
    }
    fs::remove_all(tmp);
    return 0;
}
