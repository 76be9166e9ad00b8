#include "cli/generate_command.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "canter/engine.h"
#include "canter/error.h"
#include "cli/args.h"
#include "cli/progress_display.h"

namespace canter::cli {

const char* kGenerateUsage =
    "  generate   --prompt TEXT [--image FILE] [--seconds 1..15 (5)] [--aspect 16:9|9:16|1:1|4:3|3:4]\n"
    "             [--resolution 256p|540p|1080p] [--seed N (42)] [--steps N] [--no-audio]\n"
    "             [--guidance G] [--audio-guidance G] (CFG scales of the base model)\n"
    "             [--negative-prompt TEXT] [--language CODE] [--model DIR] [--out FILE.mp4]\n"
    "             [--wav FILE] [--contact-sheet FILE.png] [--json] [--device auto|cpu|cuda]\n"
    "             [--precision auto|fp32|bf16] [--max-memory SIZE] [--max-vram SIZE] (e.g. 6G:\n"
    "             the memory budget; default what the machine has; layers stream when a\n"
    "             model does not fit) [--stream-layers auto|always]\n"
    "             make a video with audio; without --model (or $CANTER_MODEL) the untrained\n"
    "             built-in demo model is used. Ctrl-C stops at the next step, writing nothing.\n"
    "  make-demo-model DIR   write the tiny deterministic demo model (a few MB) to DIR\n";

namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_sigint(int) {
    if (g_cancel.load()) std::_Exit(130);  // second Ctrl-C: stop now
    g_cancel.store(true);
}

double parse_number(const std::string& text, const std::string& flag) {
    try {
        size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    throw Error(ErrorCode::kInvalidArgument, flag + " expects a number, got '" + text + "'");
}

}  // namespace

int cmd_generate(const std::vector<std::string>& argv) {
    Args args(argv,
              {"prompt", "image", "seconds", "aspect", "resolution", "seed", "steps", "guidance", "audio-guidance",
               "negative-prompt", "language",
               "model", "out", "wav", "contact-sheet", "device", "precision", "max-memory", "max-vram",
               "stream-layers"},
              {"no-audio", "json"});
    if (!args.positional().empty())
        throw Error(ErrorCode::kInvalidArgument,
                    "unexpected argument '" + args.positional()[0] + "' (did you mean --prompt \"...\"?)");
    GenerateRequest req;
    req.prompt = args.get("prompt");
    req.image_path = args.get("image");
    req.seconds = args.get_int("seconds", req.seconds);
    req.aspect_ratio = args.get("aspect", req.aspect_ratio);
    req.resolution = args.get("resolution", req.resolution);
    req.seed = args.get_int("seed", static_cast<int>(req.seed));
    req.steps = args.get_int("steps", req.steps);
    req.guidance = parse_number(args.get("guidance", "0"), "--guidance");
    req.audio_guidance = parse_number(args.get("audio-guidance", "0"), "--audio-guidance");
    req.negative_prompt = args.get("negative-prompt");
    req.language = args.get("language");
    req.audio = !args.has("no-audio");
    req.output_path = args.get("out", "canter_" + std::to_string(req.seconds) + "s_" + req.resolution + "_seed" +
                                          std::to_string(req.seed) + ".mp4");
    req.wav_path = args.get("wav");
    req.contact_sheet_path = args.get("contact-sheet");
    req.validate();  // before loading anything

    EngineOptions options;
    options.model_dir = args.get("model");
    if (options.model_dir.empty())
        if (const char* env = std::getenv("CANTER_MODEL")) options.model_dir = env;
    options.device = args.get("device", options.device);
    options.precision = args.get("precision", options.precision);
    options.max_memory = args.get("max-memory");
    options.max_vram = args.get("max-vram");
    options.stream_layers = args.get("stream-layers", options.stream_layers);

    const bool json = args.has("json");
    ProgressDisplay display(json ? ProgressStyle::kJson : default_progress_style(stderr), json ? stdout : stderr);
    if (!json) std::cerr << "canter: loading " << (options.model_dir.empty() ? "the built-in demo model" : options.model_dir) << "\n";
    auto engine = Engine::open(options);
    const auto info = engine->info();
    if (info.demo && !json)
        std::cerr << "canter: NOTE: using the untrained demo model (" << info.dir
                  << "): the output is a valid video with audio, but noise, not your prompt. "
                     "Pass --model DIR for real weights.\n";

    g_cancel.store(false);
    auto previous = std::signal(SIGINT, on_sigint);
    GenerateResult result;
    try {
        result = engine->generate(req, [&](const Progress& p) { display.update(p); }, &g_cancel);
    } catch (const Error& e) {
        std::signal(SIGINT, previous);
        display.finish();
        if (e.code() == ErrorCode::kCancelled) {
            if (json) std::cout << nlohmann::json{{"event", "cancelled"}}.dump() << std::endl;
            std::cerr << "canter generate: cancelled; no output was written\n";
            return exit_status_for(ErrorCode::kCancelled);
        }
        throw;
    }
    std::signal(SIGINT, previous);
    display.finish();
    for (const auto& w : result.warnings) std::cerr << "canter: warning: " << w << "\n";
    nlohmann::json streaming = nlohmann::json::array();
    for (const auto& r : result.streaming)
        streaming.push_back({{"stage", r.stage}, {"bytes_read", r.bytes_read}, {"read_s", r.read_s}, {"wait_s", r.wait_s},
                             {"upload_bytes", r.upload_bytes}, {"upload_s", r.upload_s},
                             {"upload_stall_s", r.upload_stall_s}});
    if (json) {
        nlohmann::json j = {{"event", "done"},          {"output", result.output_path},
                            {"seed", result.seed},        {"width", result.width},
                            {"height", result.height},    {"frames", result.frames},
                            {"video_seconds", result.video_seconds},
                            {"audio_sample_rate", result.audio_sample_rate},
                            {"demo_model", result.demo_model}, {"timings_s", result.timings_s},
                            {"warnings", result.warnings},
                            {"memory_plan", result.memory_plan},
                            {"streaming", streaming},
                            {"peak_rss_bytes", result.peak_rss_bytes}};
        std::cout << j.dump() << std::endl;
    } else {
        for (const auto& line : result.memory_plan) std::cerr << "canter: memory: " << line << "\n";
        for (const auto& r : result.streaming) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "canter: %s stage streamed %.2f GB in %.1f s of reading (%.2f GB/s); "
                                           "compute waited %.1f s for weights",
                          r.stage.c_str(), r.bytes_read / 1e9, r.read_s, r.read_s > 0 ? r.bytes_read / 1e9 / r.read_s : 0.0,
                          r.wait_s);
            std::cerr << buf;
            if (r.upload_s > 0)
                std::cerr << "; uploaded at " << r.upload_bytes / 1e9 / r.upload_s << " GB/s, the GPU waited "
                          << r.upload_stall_s << " s for uploads";
            std::cerr << "\n";
        }
        std::cerr << "canter: stage times:";
        for (const auto& [k, v] : result.timings_s) std::cerr << " " << k << " " << format_duration(v);
        std::cerr << "; peak RSS " << result.peak_rss_bytes / (1024 * 1024) << " MiB\n";
        double total = 0;
        for (const auto& [k, v] : result.timings_s) total += v;
        std::cout << "wrote " << result.output_path << ": " << result.width << "x" << result.height << ", "
                  << result.frames << " frames (" << result.video_seconds << " s) at 25 fps"
                  << (result.audio_sample_rate ? ", stereo AAC " + std::to_string(result.audio_sample_rate) + " Hz"
                                               : std::string(", no audio"))
                  << ", seed " << result.seed << ", " << format_duration(total) << "\n";
        if (result.demo_model)
            std::cout << "(made with the untrained demo model: expect noise, not your prompt)\n";
    }
    return 0;
}

int cmd_make_demo_model(const std::vector<std::string>& argv) {
    Args args(argv, {}, {});
    const std::string dir = args.positional().size() == 1 ? args.positional()[0] : default_demo_model_dir();
    if (args.positional().size() > 1) throw Error(ErrorCode::kInvalidArgument, "make-demo-model takes one DIR");
    std::cout << "wrote " << make_demo_model(dir) << "\n";
    return 0;
}

}  // namespace canter::cli
