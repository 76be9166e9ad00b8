// Stand-ins for the FFmpeg-backed functions in builds without FFmpeg (CMake did not find it
// via pkg-config, or CANTER_WITH_FFMPEG=OFF): each throws kUnsupported and says why.
#include <ATen/ATen.h>

#include "io/media/image_reader.h"
#include "io/media/media_probe.h"
#include "io/media/mp4_writer.h"
#include "util/check.h"

namespace canter::media {

namespace {
[[noreturn]] void unavailable(const std::string& what) {
    CANTER_THROW(Unsupported, what << ": this canter build has no FFmpeg support (rebuild with the FFmpeg "
                                      "development packages installed: libavcodec-dev libavformat-dev "
                                      "libavutil-dev libswscale-dev libswresample-dev, and pkg-config)");
}
}  // namespace

at::Tensor read_image_rgb(const std::string& path, const ImageLimits&) { unavailable("cannot read image '" + path + "'"); }
at::Tensor decode_image_rgb(const std::string&, const std::string& name, const ImageLimits&) {
    unavailable("cannot decode image '" + name + "'");
}
std::string encode_image(const at::Tensor&, const std::string& format, int) {
    unavailable("cannot encode a " + format + " image");
}
void write_mp4(const std::string& path, const at::Tensor&, const at::Tensor&, int, const Mp4Options&) {
    unavailable("cannot write '" + path + "'");
}
MediaInfo probe_media(const std::string& path) { unavailable("cannot probe '" + path + "'"); }
at::Tensor read_video_frames_rgb(const std::string& path, int64_t) { unavailable("cannot read '" + path + "'"); }

}  // namespace canter::media
