#include "io/media/media.h"

#ifdef CANTER_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
}
#endif

namespace canter::media {

#ifdef CANTER_HAVE_FFMPEG
namespace {
std::string version_string(unsigned v) {
    return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}
}  // namespace

bool media_available() { return true; }

std::string media_backend_description() {
    return "FFmpeg libavcodec " + version_string(avcodec_version()) + ", libavformat " +
           version_string(avformat_version()) + ", libavutil " + version_string(avutil_version()) + ", libswscale " +
           version_string(swscale_version()) + (avcodec_find_encoder_by_name("libx264") ? ", libx264" : ", no libx264");
}
#else
bool media_available() { return false; }
std::string media_backend_description() { return "FFmpeg not built in (CANTER_WITH_FFMPEG / pkg-config)"; }
#endif

}  // namespace canter::media
