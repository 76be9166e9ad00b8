// Every size of one generation in one place: pixels, latent sizes, frame counts, audio
// lengths and token counts for each resolution x aspect ratio x duration.
// Spec: pipeline.md §3 (rounding rules, time axis, token counts), §2.4 (stage order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace canter::pipeline {

enum class Resolution { k256p, k540p, k1080p };
enum class Aspect { k16x9, k9x16, k1x1, k4x3, k3x4 };

// "256p" / "540p" / "1080p" and "16:9" / "9:16" / "1:1" / "4:3" / "3:4"; anything else throws
// kInvalidArgument naming the parameter and listing the accepted values.
Resolution parse_resolution(const std::string& s);
Aspect parse_aspect(const std::string& s);
const char* resolution_name(Resolution r);
const char* aspect_name(Aspect a);
std::vector<std::string> resolution_names();
std::vector<std::string> aspect_names();

constexpr int kFps = 25;
constexpr int kMinSeconds = 1;
constexpr int kMaxSeconds = 15;
constexpr int64_t kAudioSamplesPerLatent = 2048;      // Oobleck hop on the 51.2 kHz time base
constexpr int64_t kOutputSamplesPerLatent = 1764;     // after resampling to 44.1 kHz
constexpr int kOutputSampleRate = 44100;

struct PixelSize {
    int64_t width = 0, height = 0;
};

// The preset size of a resolution and aspect ratio. The short side is 256 / 512 / 1088 (the
// sizes upstream's examples use: 448x256, 896x512, 1920x1088) and the long side is the nearest
// multiple of 32 to short * ratio, so every preset survives upstream's rounding unchanged.
PixelSize preset_size(Resolution r, Aspect a);

// One denoising stage's spatial geometry after upstream's rounding (§3.1): latent
// h = H // 16 // 2 * 2, w likewise; the generated pixel size is 16h x 16w.
struct StageGeometry {
    int64_t width = 0, height = 0;      // pixels actually generated (multiples of 32)
    int64_t latent_h = 0, latent_w = 0;
    int64_t tokens_per_frame = 0;       // (h/2) * (w/2)
    int64_t video_tokens = 0;           // latent_frames * tokens_per_frame
};
StageGeometry stage_geometry(int64_t width_px, int64_t height_px, int64_t latent_frames);

struct Geometry {
    int seconds = 0;
    Resolution resolution = Resolution::k256p;
    Aspect aspect = Aspect::k16x9;
    int64_t audio_latents = 0;     // A = 25 s + 1
    int64_t latent_frames = 0;     // T = (A - 1) // 4 + 1
    int64_t video_frames = 0;      // F = 4 (T - 1) + 1
    int64_t audio_samples_vae = 0; // 2048 A (51.2 kHz time base, decoder output)
    int64_t audio_samples_out = 0; // 1764 A (44.1 kHz)
    StageGeometry base;            // always 256p of the same aspect ratio
    bool has_sr = false;           // 540p / 1080p add a super-resolution stage
    StageGeometry sr;

    const StageGeometry& output() const { return has_sr ? sr : base; }
    double video_seconds() const { return static_cast<double>(video_frames) / kFps; }
    double audio_seconds() const { return static_cast<double>(audio_samples_out) / kOutputSampleRate; }
    // Packed DiT sequence length of one forward: video + audio + text tokens.
    int64_t packed_length(bool sr_stage, int64_t text_tokens) const;
    std::string summary() const;
};

// Throws kInvalidArgument for seconds outside 1..15.
Geometry compute_geometry(int seconds, Resolution resolution, Aspect aspect);

}  // namespace canter::pipeline
