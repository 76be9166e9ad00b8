// MP4 writer: H.264 video (libx264, yuv420p) + AAC audio (FFmpeg's native encoder), muxed in one
// pass (pipeline.md §8.6 does encode-then-mux through temporary files; the result is the same
// streams). Needs FFmpeg (see media.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace canter::media {

struct Mp4Options {
    int fps = 25;                    // upstream EvaluationConfig.fps
    int crf = 10;                    // imageio quality 8 -> crf int((1 - 8/10) * 51) = 10
    std::string preset = "medium";   // x264 preset (the libx264 default)
    int audio_bitrate = 0;           // bits/s; 0 = the AAC encoder's default (as upstream)
};

// Writes `frames` uint8 [F, H, W, 3] (RGB, any device) and, when defined, `audio` float
// [C, N] (C = 1..8 channels, values clamped to [-1, 1], NaN -> 0) at `sample_rate` Hz to `path`.
// * Both streams are kept in full (no -shortest, as upstream): with 25*s not divisible by 4
//   the audio is longer than the video (pipeline.md §3.2).
// * RGB -> yuv420p (BT.601, limited range, bicubic chroma as the ffmpeg CLI does), tagged
//   smpte170m. yuv420p needs even sizes: an odd width/height is padded by repeating the last
//   column/row (so the file is 1 px larger there). Upstream's imageio instead rescales sizes
//   not divisible by 16 up to a multiple of 16; canter's generated sizes are multiples of 32
//   and are never changed.
// * Audio goes to the AAC encoder as float; upstream first writes a 16-bit WAV and encodes that,
//   so its AAC input is quantised to 16 bits (inaudible difference, not bit-identical).
// * The file is written to a temporary sibling and renamed over `path` on success; on any error
//   the temporary is removed and `path` is left untouched. The moov atom is placed first
//   (+faststart) so browsers can start playback before the download ends.
// Throws canter::Error naming `path` or the bad parameter: kInvalidArgument (shapes, dtypes,
// fps, crf, preset, sample rate), kIO (folder missing or not writable), kUnsupported (no
// FFmpeg, no libx264 or AAC encoder).
void write_mp4(const std::string& path, const at::Tensor& frames, const at::Tensor& audio, int sample_rate,
               const Mp4Options& options = {});

}  // namespace canter::media
