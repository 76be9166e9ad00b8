#include "io/media/ffmpeg_common.h"

extern "C" {
#include <libavutil/log.h>
}

#include <cstdarg>
#include <cstdlib>
#include <mutex>

#include "util/check.h"

namespace canter::media::detail {

namespace {

thread_local std::string t_last_message;

void log_callback(void* avcl, int level, const char* fmt, va_list vl) {
    static const bool forward = std::getenv("CANTER_FFMPEG_LOG") != nullptr;
    if (level <= AV_LOG_ERROR) {
        char line[1024];
        int print_prefix = 1;
        va_list copy;
        va_copy(copy, vl);
        av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
        va_end(copy);
        std::string s(line);
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        if (!s.empty()) t_last_message = s;
    }
    if (forward) av_log_default_callback(avcl, level, fmt, vl);
}

}  // namespace

void init_ffmpeg() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_callback(log_callback); });
}

void clear_ffmpeg_message() { t_last_message.clear(); }

std::string ffmpeg_message_suffix() { return t_last_message.empty() ? "" : " (ffmpeg: " + t_last_message + ")"; }

std::string describe_av_error(int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, buf, sizeof buf);
    return std::string(buf) + ffmpeg_message_suffix();
}

FramePtr make_frame() {
    FramePtr f(av_frame_alloc());
    CANTER_CHECK(f, OutOfMemory, "av_frame_alloc failed");
    return f;
}

PacketPtr make_packet() {
    PacketPtr p(av_packet_alloc());
    CANTER_CHECK(p, OutOfMemory, "av_packet_alloc failed");
    return p;
}

}  // namespace canter::media::detail
