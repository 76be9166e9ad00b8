#include "cli/progress_display.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>

namespace canter::cli {

ProgressStyle default_progress_style(FILE* stream) {
    return ::isatty(::fileno(stream)) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

std::string format_duration(double seconds) {
    if (seconds < 0) return "?";
    const long s = std::lround(seconds);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

std::string progress_json(const Progress& p) {
    nlohmann::json j = {{"event", "progress"},     {"stage", p.stage},       {"step", p.step},
                        {"steps", p.steps},        {"fraction", p.fraction}, {"elapsed_s", p.elapsed_s},
                        {"eta_s", p.eta_s},        {"message", p.message}};
    return j.dump();
}

void ProgressDisplay::update(const Progress& p) {
    if (style_ == ProgressStyle::kJson) {
        std::fprintf(stream_, "%s\n", progress_json(p).c_str());
        std::fflush(stream_);
        return;
    }
    const int percent = static_cast<int>(std::floor(p.fraction * 100));
    if (style_ == ProgressStyle::kLines) {
        // One line per stage start and per step; nothing is redrawn.
        const std::string key = p.stage + "/" + std::to_string(p.step);
        if (key == last_line_key_) return;
        last_line_key_ = key;
        std::fprintf(stream_, "[%3d%%] %-6s %s (elapsed %s, eta %s)\n", percent, p.stage.c_str(), p.message.c_str(),
                     format_duration(p.elapsed_s).c_str(), format_duration(p.eta_s).c_str());
        std::fflush(stream_);
        return;
    }
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(std::lround(p.fraction * kWidth));
    std::string bar;
    for (int i = 0; i < kWidth; ++i) bar += i < filled ? "\u2588" : "\u2591";
    std::fprintf(stream_, "\r\033[2K%-6s %s %3d%%  %s  %s elapsed, ETA %s", p.stage.c_str(), bar.c_str(), percent,
                 p.message.c_str(), format_duration(p.elapsed_s).c_str(), format_duration(p.eta_s).c_str());
    std::fflush(stream_);
    bar_open_ = true;
}

void ProgressDisplay::finish() {
    if (bar_open_) std::fprintf(stream_, "\n");
    bar_open_ = false;
}

}  // namespace canter::cli
