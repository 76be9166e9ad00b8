// Inspecting and reading back media files (needs FFmpeg; see media.h). Used by the tests and by
// the server (to report what a finished job produced).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace canter::media {

struct MediaInfo {
    std::string format;            // container, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    double duration_s = 0;         // container duration
    bool has_video = false;
    std::string video_codec;       // "h264"
    std::string pix_fmt;           // "yuv420p"
    int width = 0, height = 0;
    double fps = 0;                // average frame rate
    int64_t video_frames = 0;      // counted by demuxing every packet (1 packet = 1 frame for H.264)
    double video_duration_s = 0;   // stream duration (video_frames / fps for constant-rate files)
    bool has_audio = false;
    std::string audio_codec;       // "aac"
    int audio_sample_rate = 0;
    int audio_channels = 0;
    int64_t audio_samples = 0;     // stream duration in samples (encoder priming excluded)
    double audio_duration_s = 0;
};

// Opens `path`, reads every packet. Throws kNotFound (missing), kCorruption (not a media
// file / unreadable container), kUnsupported (built without FFmpeg); messages name the file.
MediaInfo probe_media(const std::string& path);

// Decodes up to `max_frames` frames (all when < 0) of the first video stream to uint8
// [F, H, W, 3] RGB (BT.601 limited range assumed for untagged YUV). For tests and previews.
at::Tensor read_video_frames_rgb(const std::string& path, int64_t max_frames = -1);

}  // namespace canter::media
