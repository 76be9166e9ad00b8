// Internal FFmpeg helpers for src/io/media (only compiled when CANTER_HAVE_FFMPEG): RAII owners,
// error strings, and log capture. FFmpeg's own log lines are not printed (set CANTER_FFMPEG_LOG=1
// to see them); instead the last error-level line on the calling thread is appended to the
// canter::Error messages, so a failure explains itself without log noise in the server.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace canter::media::detail {

// Installs the log callback (once per process).
void init_ffmpeg();

// Clears the captured message for this thread; call before an FFmpeg operation.
void clear_ffmpeg_message();
// "Invalid data found when processing input (ffmpeg: <last error line>)".
std::string describe_av_error(int err);
// " (ffmpeg: <last error line>)" or "" when nothing was logged.
std::string ffmpeg_message_suffix();

struct CodecContextDeleter {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
    void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct InputDeleter {
    void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using InputPtr = std::unique_ptr<AVFormatContext, InputDeleter>;

FramePtr make_frame();    // throws kOutOfMemory
PacketPtr make_packet();  // throws kOutOfMemory

}  // namespace canter::media::detail
