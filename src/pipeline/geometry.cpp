#include "pipeline/geometry.h"

#include <cmath>
#include <sstream>

#include "util/check.h"

namespace canter::pipeline {

namespace {

struct AspectInfo {
    Aspect aspect;
    const char* name;
    int num, den;  // width : height
};
constexpr AspectInfo kAspects[] = {
    {Aspect::k16x9, "16:9", 16, 9}, {Aspect::k9x16, "9:16", 9, 16}, {Aspect::k1x1, "1:1", 1, 1},
    {Aspect::k4x3, "4:3", 4, 3},    {Aspect::k3x4, "3:4", 3, 4},
};

struct ResolutionInfo {
    Resolution resolution;
    const char* name;
    int64_t short_side;
};
constexpr ResolutionInfo kResolutions[] = {
    {Resolution::k256p, "256p", 256}, {Resolution::k540p, "540p", 512}, {Resolution::k1080p, "1080p", 1088}};

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

int64_t nearest_multiple_of_32(double x) { return static_cast<int64_t>(std::floor(x / 32.0 + 0.5)) * 32; }

}  // namespace

Resolution parse_resolution(const std::string& s) {
    for (const auto& r : kResolutions)
        if (s == r.name) return r.resolution;
    CANTER_THROW(InvalidArgument, "resolution must be one of " << join(resolution_names()) << ", got '" << s << "'");
}

Aspect parse_aspect(const std::string& s) {
    for (const auto& a : kAspects)
        if (s == a.name) return a.aspect;
    CANTER_THROW(InvalidArgument, "aspect ratio must be one of " << join(aspect_names()) << ", got '" << s << "'");
}

const char* resolution_name(Resolution r) {
    for (const auto& info : kResolutions)
        if (info.resolution == r) return info.name;
    return "?";
}

const char* aspect_name(Aspect a) {
    for (const auto& info : kAspects)
        if (info.aspect == a) return info.name;
    return "?";
}

std::vector<std::string> resolution_names() {
    std::vector<std::string> out;
    for (const auto& r : kResolutions) out.push_back(r.name);
    return out;
}

std::vector<std::string> aspect_names() {
    std::vector<std::string> out;
    for (const auto& a : kAspects) out.push_back(a.name);
    return out;
}

PixelSize preset_size(Resolution r, Aspect a) {
    int64_t short_side = 0;
    for (const auto& info : kResolutions)
        if (info.resolution == r) short_side = info.short_side;
    for (const auto& info : kAspects) {
        if (info.aspect != a) continue;
        if (info.num >= info.den) {
            return {nearest_multiple_of_32(static_cast<double>(short_side) * info.num / info.den), short_side};
        }
        return {short_side, nearest_multiple_of_32(static_cast<double>(short_side) * info.den / info.num)};
    }
    CANTER_THROW(Internal, "unknown aspect ratio");
}

StageGeometry stage_geometry(int64_t width_px, int64_t height_px, int64_t latent_frames) {
    CANTER_CHECK(width_px >= 32 && height_px >= 32, InvalidArgument,
                 "frame size must be at least 32x32 pixels, got " << width_px << "x" << height_px);
    StageGeometry g;
    g.latent_h = height_px / 16 / 2 * 2;
    g.latent_w = width_px / 16 / 2 * 2;
    g.height = 16 * g.latent_h;
    g.width = 16 * g.latent_w;
    g.tokens_per_frame = (g.latent_h / 2) * (g.latent_w / 2);
    g.video_tokens = latent_frames * g.tokens_per_frame;
    return g;
}

int64_t Geometry::packed_length(bool sr_stage, int64_t text_tokens) const {
    return (sr_stage ? sr : base).video_tokens + audio_latents + text_tokens;
}

std::string Geometry::summary() const {
    std::ostringstream s;
    const auto& out = output();
    s << seconds << " s " << resolution_name(resolution) << " " << aspect_name(aspect) << ": " << out.width << "x"
      << out.height << ", " << video_frames << " frames @" << kFps << " fps, audio " << audio_samples_out << " samples @"
      << kOutputSampleRate << " Hz; base " << base.width << "x" << base.height << " (latent " << latent_frames << "x"
      << base.latent_h << "x" << base.latent_w << ", " << base.video_tokens << " video tokens)";
    if (has_sr) s << ", SR " << sr.width << "x" << sr.height << " (" << sr.video_tokens << " video tokens)";
    return s.str();
}

Geometry compute_geometry(int seconds, Resolution resolution, Aspect aspect) {
    CANTER_CHECK(seconds >= kMinSeconds && seconds <= kMaxSeconds, InvalidArgument,
                 "seconds must be a whole number from " << kMinSeconds << " to " << kMaxSeconds << ", got "
                                                        << seconds);
    Geometry g;
    g.seconds = seconds;
    g.resolution = resolution;
    g.aspect = aspect;
    g.audio_latents = static_cast<int64_t>(kFps) * seconds + 1;
    g.latent_frames = (g.audio_latents - 1) / 4 + 1;
    g.video_frames = 4 * (g.latent_frames - 1) + 1;
    g.audio_samples_vae = kAudioSamplesPerLatent * g.audio_latents;
    g.audio_samples_out = kOutputSamplesPerLatent * g.audio_latents;
    const auto base_px = preset_size(Resolution::k256p, aspect);
    g.base = stage_geometry(base_px.width, base_px.height, g.latent_frames);
    g.has_sr = resolution != Resolution::k256p;
    if (g.has_sr) {
        const auto sr_px = preset_size(resolution, aspect);
        g.sr = stage_geometry(sr_px.width, sr_px.height, g.latent_frames);
    }
    return g;
}

}  // namespace canter::pipeline
