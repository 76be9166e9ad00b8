#include "io/media/image_reader.h"

#include <ATen/ATen.h>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "io/media/ffmpeg_common.h"
#include "util/check.h"

namespace canter::media {

namespace {

using namespace detail;

struct Sniffed {
    AVCodecID codec = AV_CODEC_ID_NONE;
    const char* format = "";
    int64_t width = -1, height = -1;  // from the header; -1 when not found
};

uint32_t be16(const std::string& b, size_t i) { return (uint8_t(b[i]) << 8) | uint8_t(b[i + 1]); }
uint32_t be32(const std::string& b, size_t i) { return (be16(b, i) << 16) | be16(b, i + 2); }
uint32_t le16(const std::string& b, size_t i) { return uint8_t(b[i]) | (uint8_t(b[i + 1]) << 8); }
uint32_t le24(const std::string& b, size_t i) { return le16(b, i) | (uint8_t(b[i + 2]) << 16); }
uint32_t le32(const std::string& b, size_t i) { return le16(b, i) | (le16(b, i + 2) << 16); }
bool starts(const std::string& b, size_t at, const char* s, size_t n) {
    return b.size() >= at + n && std::memcmp(b.data() + at, s, n) == 0;
}

// Identifies the format from its signature, reads the size from the header and checks the
// structural end marker (IEND, EOI, RIFF length), so that truncated files give a clear error
// even where a decoder would return a partial picture.
Sniffed sniff(const std::string& b, const std::string& name) {
    Sniffed s;
    if (starts(b, 0, "\x89PNG\r\n\x1a\n", 8)) {
        s = {AV_CODEC_ID_PNG, "PNG"};
        CANTER_CHECK(starts(b, 12, "IHDR", 4) && b.size() >= 24, Corruption,
                     "image '" << name << "': PNG without an IHDR header (truncated or corrupt)");
        s.width = be32(b, 16);
        s.height = be32(b, 20);
        CANTER_CHECK(b.rfind("IEND") != std::string::npos, Corruption,
                     "image '" << name << "': truncated PNG (no IEND chunk)");
    } else if (starts(b, 0, "\xFF\xD8\xFF", 3)) {
        s = {AV_CODEC_ID_MJPEG, "JPEG"};
        size_t i = 2, sos = std::string::npos;
        while (i + 4 <= b.size()) {
            if (uint8_t(b[i]) != 0xFF) break;
            const uint8_t m = uint8_t(b[i + 1]);
            if (m == 0xFF) { ++i; continue; }  // fill byte
            if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { i += 2; continue; }
            const uint32_t len = be16(b, i + 2);
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && i + 9 <= b.size()) {
                s.height = be16(b, i + 5);
                s.width = be16(b, i + 7);
            }
            if (m == 0xDA) { sos = i; break; }
            i += 2 + len;
        }
        CANTER_CHECK(sos != std::string::npos && s.width >= 0, Corruption,
                     "image '" << name << "': JPEG header incomplete (truncated or corrupt)");
        // EOI cannot occur inside entropy-coded data (0xFF is stuffed there), so its absence
        // after the first scan means the file was cut short.
        CANTER_CHECK(b.find("\xFF\xD9", sos) != std::string::npos, Corruption,
                     "image '" << name << "': truncated JPEG (no end-of-image marker)");
    } else if (starts(b, 0, "RIFF", 4) && starts(b, 8, "WEBP", 4)) {
        s = {AV_CODEC_ID_WEBP, "WebP"};
        CANTER_CHECK(b.size() >= 30, Corruption, "image '" << name << "': truncated WebP header");
        CANTER_CHECK(uint64_t(le32(b, 4)) + 8 <= b.size(), Corruption,
                     "image '" << name << "': truncated WebP (RIFF size " << le32(b, 4) + 8ull << " bytes, file "
                               << b.size() << " bytes)");
        if (starts(b, 12, "VP8 ", 4)) {
            s.width = le16(b, 26) & 0x3FFF;
            s.height = le16(b, 28) & 0x3FFF;
        } else if (starts(b, 12, "VP8L", 4)) {
            const uint32_t bits = le32(b, 21);
            s.width = (bits & 0x3FFF) + 1;
            s.height = ((bits >> 14) & 0x3FFF) + 1;
        } else if (starts(b, 12, "VP8X", 4)) {
            s.width = le24(b, 24) + 1;
            s.height = le24(b, 27) + 1;
        }
    } else if (starts(b, 0, "GIF87a", 6) || starts(b, 0, "GIF89a", 6)) {
        s = {AV_CODEC_ID_GIF, "GIF"};
        CANTER_CHECK(b.size() >= 13, Corruption, "image '" << name << "': truncated GIF header");
        s.width = le16(b, 6);
        s.height = le16(b, 8);
    } else if (starts(b, 0, "BM", 2) && b.size() >= 26) {
        s = {AV_CODEC_ID_BMP, "BMP"};
        s.width = int32_t(le32(b, 18));
        s.height = std::abs(int32_t(le32(b, 22)));  // negative = top-down
    } else {
        CANTER_THROW(InvalidArgument, "'" << name
                                          << "' is not a supported image (expected PNG, JPEG, WebP, GIF or BMP; "
                                          << b.size() << " bytes, unrecognised signature)");
    }
    return s;
}

// EXIF orientation 1..8 from the frame: the "Orientation" metadata entry (FFmpeg <= 6 copies
// the EXIF tags there) or else a display matrix (newer FFmpeg converts the tag into one).
int frame_orientation(const AVFrame* frame) {
    if (const AVDictionaryEntry* e = av_dict_get(frame->metadata, "Orientation", nullptr, 0)) {
        const int v = std::atoi(e->value);
        return v >= 1 && v <= 8 ? v : 1;
    }
    const AVFrameSideData* sd = av_frame_get_side_data(frame, AV_FRAME_DATA_DISPLAYMATRIX);
    if (!sd || sd->size < int(sizeof(int32_t) * 9)) return 1;
    // Compare with the matrices FFmpeg builds for each orientation (same calls as its decoder).
    for (int o = 2; o <= 8; ++o) {
        int32_t m[9];
        static const double rot[9] = {0, 0, 0, 180, 180, 90, 90, -90, -90};
        av_display_rotation_set(m, rot[o]);
        if (o == 2 || o == 4 || o == 5 || o == 7) av_display_matrix_flip(m, 1, 0);
        if (std::memcmp(m, sd->data, sizeof m) == 0) return o;
    }
    return 1;
}

// Pillow's ImageOps.exif_transpose on [H, W, 3].
at::Tensor apply_orientation(const at::Tensor& img, int orientation) {
    switch (orientation) {
        case 2: return img.flip({1});                  // mirror left-right
        case 3: return img.flip({0, 1});               // rotate 180
        case 4: return img.flip({0});                  // mirror top-bottom
        case 5: return img.transpose(0, 1);            // transpose
        case 6: return img.transpose(0, 1).flip({1});  // rotate 90 clockwise
        case 7: return img.transpose(0, 1).flip({0, 1});  // transverse
        case 8: return img.transpose(0, 1).flip({0});  // rotate 90 counter-clockwise
        default: return img;
    }
}

}  // namespace

at::Tensor decode_image_rgb(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
    init_ffmpeg();
    CANTER_CHECK(int64_t(bytes.size()) <= limits.max_file_bytes, InvalidArgument,
                 "image '" << name << "' is " << bytes.size() << " bytes, over the limit of " << limits.max_file_bytes
                           << " bytes (ImageLimits::max_file_bytes)");
    CANTER_CHECK(!bytes.empty(), InvalidArgument, "image '" << name << "' is empty (0 bytes)");
    const Sniffed s = sniff(bytes, name);
    CANTER_CHECK(s.width != 0 && s.height != 0, Corruption,
                 "image '" << name << "': " << s.format << " header gives a size of " << s.width << "x" << s.height);
    if (s.width > 0 && s.height > 0) {
        CANTER_CHECK(s.width * s.height <= limits.max_pixels, InvalidArgument,
                     "image '" << name << "' is " << s.width << "x" << s.height << " = " << s.width * s.height
                               << " pixels, over the limit of " << limits.max_pixels
                               << " pixels (ImageLimits::max_pixels)");
    }

    const AVCodec* codec = avcodec_find_decoder(s.codec);
    CANTER_CHECK(codec, Unsupported,
                 "image '" << name << "': this FFmpeg build has no " << s.format << " decoder");
    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    CANTER_CHECK(ctx, OutOfMemory, "avcodec_alloc_context3 failed");
    ctx->max_pixels = limits.max_pixels;  // backstop for formats whose size we did not parse
    ctx->thread_count = 1;
    if (s.codec == AV_CODEC_ID_PNG || s.codec == AV_CODEC_ID_WEBP)
        ctx->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK;
    clear_ffmpeg_message();
    int ret = avcodec_open2(ctx.get(), codec, nullptr);
    CANTER_CHECK(ret >= 0, Unsupported,
                 "image '" << name << "': cannot open the " << s.format << " decoder: " << describe_av_error(ret));

    PacketPtr pkt = make_packet();
    CANTER_CHECK(av_new_packet(pkt.get(), int(bytes.size())) >= 0, OutOfMemory, "av_new_packet failed");
    std::memcpy(pkt->data, bytes.data(), bytes.size());
    FramePtr frame = make_frame();
    ret = avcodec_send_packet(ctx.get(), pkt.get());
    if (ret >= 0) {
        avcodec_send_packet(ctx.get(), nullptr);  // flush: the whole file is one picture
        ret = avcodec_receive_frame(ctx.get(), frame.get());
    }
    CANTER_CHECK(ret >= 0, Corruption,
                 "image '" << name << "': cannot decode the " << s.format << " data (corrupt or truncated): "
                           << describe_av_error(ret));
    CANTER_CHECK(!(frame->flags & AV_FRAME_FLAG_CORRUPT) && frame->decode_error_flags == 0, Corruption,
                 "image '" << name << "': the " << s.format << " data is corrupt" << ffmpeg_message_suffix());
    const int w = frame->width, h = frame->height;
    CANTER_CHECK(w > 0 && h > 0 && int64_t(w) * h <= limits.max_pixels, InvalidArgument,
                 "image '" << name << "' decodes to " << w << "x" << h << ", outside 1.." << limits.max_pixels
                           << " pixels (ImageLimits::max_pixels)");

    // To packed RGB24 (alpha dropped, palette expanded, 16-bit reduced, YCbCr converted).
    const AVPixelFormat src_fmt = AVPixelFormat(frame->format);
    SwsPtr sws(sws_getContext(w, h, src_fmt, w, h, AV_PIX_FMT_RGB24,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
    CANTER_CHECK(sws, Unsupported,
                 "image '" << name << "': cannot convert pixel format "
                           << (av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?") << " to RGB");
    // JPEG and WebP carry full-range YCbCr; tell libswscale (yuvj* formats imply it already).
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(src_fmt);
    const bool is_yuv = desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3;
    if (is_yuv && frame->color_range == AVCOL_RANGE_JPEG) {
        int* inv_table = nullptr;
        int* table = nullptr;
        int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
        if (sws_getColorspaceDetails(sws.get(), &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                     &saturation) >= 0) {
            sws_setColorspaceDetails(sws.get(), inv_table, 1, table, dst_range, brightness, contrast, saturation);
        }
    }
    at::Tensor out = at::empty({h, w, 3}, at::kByte);
    uint8_t* dst[4] = {out.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {w * 3, 0, 0, 0};
    ret = sws_scale(sws.get(), frame->data, frame->linesize, 0, h, dst, dst_stride);
    CANTER_CHECK(ret == h, Internal, "image '" << name << "': RGB conversion returned " << ret << " rows of " << h);

    const int orientation = frame_orientation(frame.get());
    return orientation == 1 ? out : apply_orientation(out, orientation).contiguous();
}

at::Tensor read_image_rgb(const std::string& path, const ImageLimits& limits) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    CANTER_CHECK(fs::exists(st), NotFound, "image '" << path << "' does not exist");
    CANTER_CHECK(fs::is_regular_file(st), InvalidArgument, "image '" << path << "' is not a regular file");
    const uintmax_t size = fs::file_size(path, ec);
    CANTER_CHECK(!ec, IO, "cannot read image '" << path << "': " << ec.message());
    CANTER_CHECK(int64_t(size) <= limits.max_file_bytes, InvalidArgument,
                 "image '" << path << "' is " << size << " bytes, over the limit of " << limits.max_file_bytes
                           << " bytes (ImageLimits::max_file_bytes)");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        CANTER_THROW(IO, "cannot read image '" << path << "': " << std::strerror(err));
    }
    std::string bytes(size_t(size), '\0');
    in.read(bytes.data(), std::streamsize(size));
    CANTER_CHECK(in.gcount() == std::streamsize(size), IO,
                 "cannot read image '" << path << "': got " << in.gcount() << " of " << size << " bytes");
    return decode_image_rgb(bytes, path, limits);
}

}  // namespace canter::media
