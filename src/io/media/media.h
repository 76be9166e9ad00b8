// Media I/O room (src/io/media): images in, MP4 / WAV / PNG out, MP4 probing.
// FFmpeg is an optional build component (CMake: CANTER_WITH_FFMPEG, found via pkg-config).
// Without it the FFmpeg-backed functions (read_image_rgb, encode_image, write_mp4, probe_media,
// read_video_frames_rgb) throw canter::Error kUnsupported; write_wav, the PNG writer and the
// image pre-processing are pure C++/ATen and always work.
// Thread safety: every function may be called from several threads at once; the only shared
// state is the process-wide FFmpeg log callback installed on first use (see ffmpeg_common.h).
#pragma once

#include <string>

namespace canter::media {

// True when this build links FFmpeg (MP4 output, image decoding, probing are available).
bool media_available();

// "FFmpeg libavcodec 59.37.100, libavformat 59.27.100, ..." or "FFmpeg not built in".
std::string media_backend_description();

}  // namespace canter::media
