// How `canter generate` shows progress: a redrawn bar on a terminal, one plain line per event
// otherwise, or JSON lines (`--json`) for programs.
#pragma once

#include <cstdio>
#include <string>

#include "canter/engine.h"

namespace canter::cli {

enum class ProgressStyle { kBar, kLines, kJson };

// kBar when `stream` is a terminal, else kLines.
ProgressStyle default_progress_style(FILE* stream);

class ProgressDisplay {
public:
    ProgressDisplay(ProgressStyle style, FILE* stream) : style_(style), stream_(stream) {}
    void update(const Progress& p);
    void finish();  // ends a bar line

private:
    ProgressStyle style_;
    FILE* stream_;
    std::string last_line_key_;
    bool bar_open_ = false;
};

std::string format_duration(double seconds);  // "1:05", "0:03", "1:02:03"
// JSON text of one event: {"event":"progress","stage":...}
std::string progress_json(const Progress& p);

}  // namespace canter::cli
