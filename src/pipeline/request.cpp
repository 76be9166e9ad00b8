// GenerateRequest::validate: the one place request fields are checked, for the CLI and the
// server alike. Messages name the field as users write it.
#include <algorithm>
#include <cctype>

#include "canter/engine.h"
#include "pipeline/geometry.h"
#include "pipeline/speech_language.h"
#include "util/check.h"

namespace canter {

namespace {
constexpr size_t kMaxPromptBytes = 16000;  // ~4,000 tokens; the model reads at most 640

bool blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}
}  // namespace

void GenerateRequest::validate() const {
    CANTER_CHECK(!blank(prompt), InvalidArgument, "prompt must not be empty");
    CANTER_CHECK(prompt.size() <= kMaxPromptBytes, InvalidArgument,
                 "prompt is " << prompt.size() << " bytes; the limit is " << kMaxPromptBytes
                              << " (the model reads at most 640 tokens)");
    CANTER_CHECK(negative_prompt.size() <= kMaxPromptBytes, InvalidArgument,
                 "negative_prompt is " << negative_prompt.size() << " bytes; the limit is " << kMaxPromptBytes);
    CANTER_CHECK(seconds >= pipeline::kMinSeconds && seconds <= pipeline::kMaxSeconds, InvalidArgument,
                 "seconds must be a whole number from " << pipeline::kMinSeconds << " to " << pipeline::kMaxSeconds
                                                        << ", got " << seconds);
    pipeline::parse_aspect(aspect_ratio);
    pipeline::parse_resolution(resolution);
    CANTER_CHECK(steps >= 0 && steps <= 200, InvalidArgument, "steps must be 0 (model default) to 200, got " << steps);
    CANTER_CHECK(seed >= 0, InvalidArgument, "seed must be >= 0, got " << seed);
    if (!language.empty()) pipeline::parse_speech_language(language);
    CANTER_CHECK(!output_path.empty(), InvalidArgument, "output path must be given");
}

}  // namespace canter
