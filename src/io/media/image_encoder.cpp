// encode_image (declared in image_reader.h): one still picture through a libavcodec encoder.
#include <ATen/ATen.h>

extern "C" {
#include <libavutil/opt.h>
}

#include <cstring>

#include "io/media/ffmpeg_common.h"
#include "io/media/image_reader.h"
#include "util/check.h"

namespace canter::media {

using namespace detail;

std::string encode_image(const at::Tensor& image_u8, const std::string& format, int quality) {
    init_ffmpeg();
    CANTER_CHECK(image_u8.defined() && image_u8.dim() == 3 && image_u8.scalar_type() == at::kByte &&
                     image_u8.size(0) > 0 && image_u8.size(1) > 0 &&
                     (image_u8.size(2) == 1 || image_u8.size(2) == 3 || image_u8.size(2) == 4),
                 InvalidArgument,
                 "encode_image: expected uint8 [H, W, 1|3|4], got " << (image_u8.defined() ? image_u8.sizes()
                                                                                        : at::IntArrayRef{}));
    CANTER_CHECK(quality >= 1 && quality <= 100, InvalidArgument, "encode_image: quality must be 1..100, got " << quality);
    const int h = int(image_u8.size(0)), w = int(image_u8.size(1)), c = int(image_u8.size(2));
    const AVPixelFormat in_fmt = c == 1 ? AV_PIX_FMT_GRAY8 : c == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_RGBA;

    const char* encoder = nullptr;
    AVPixelFormat enc_fmt = in_fmt;
    if (format == "png") {
        encoder = "png";
    } else if (format == "jpeg" || format == "jpg") {
        encoder = "mjpeg";
        enc_fmt = AV_PIX_FMT_YUVJ444P;  // full-range 4:4:4, what FFmpeg 5.1's mjpeg accepts
    } else if (format == "webp") {
        encoder = "libwebp";
        enc_fmt = c == 4 ? AV_PIX_FMT_YUVA420P : AV_PIX_FMT_YUV420P;
    } else if (format == "bmp") {
        encoder = "bmp";
        enc_fmt = c == 1 ? AV_PIX_FMT_GRAY8 : c == 3 ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_BGRA;
    } else if (format == "gif") {
        encoder = "gif";
        enc_fmt = c == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB8;
    } else {
        CANTER_THROW(InvalidArgument, "encode_image: unknown format '" << format << "' (png, jpeg, webp, bmp, gif)");
    }
    const AVCodec* codec = avcodec_find_encoder_by_name(encoder);
    CANTER_CHECK(codec, Unsupported, "encode_image: this FFmpeg build has no '" << encoder << "' encoder");

    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    CANTER_CHECK(ctx, OutOfMemory, "avcodec_alloc_context3 failed");
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = enc_fmt;
    ctx->time_base = {1, 25};
    ctx->color_range = (enc_fmt == AV_PIX_FMT_YUVJ444P) ? AVCOL_RANGE_JPEG : AVCOL_RANGE_UNSPECIFIED;
    if (format == "jpeg" || format == "jpg") {
        // quality 100 -> qscale 1 (best) ... 1 -> 31.
        const int q = 1 + (100 - quality) * 30 / 99;
        ctx->flags |= AV_CODEC_FLAG_QSCALE;
        ctx->global_quality = FF_QP2LAMBDA * q;
        ctx->qmin = ctx->qmax = q;
    }
    AVDictionary* opts = nullptr;
    if (format == "webp") av_dict_set_int(&opts, "quality", quality, 0);
    clear_ffmpeg_message();
    int ret = avcodec_open2(ctx.get(), codec, &opts);
    av_dict_free(&opts);
    CANTER_CHECK(ret >= 0, Unsupported, "encode_image: cannot open the '" << encoder << "' encoder: " << describe_av_error(ret));

    FramePtr frame = make_frame();
    frame->width = w;
    frame->height = h;
    frame->format = enc_fmt;
    frame->pts = 0;
    CANTER_CHECK(av_frame_get_buffer(frame.get(), 0) >= 0, OutOfMemory, "av_frame_get_buffer failed");
    const at::Tensor src = image_u8.to(at::kCPU).contiguous();
    SwsPtr sws(sws_getContext(w, h, in_fmt, w, h, enc_fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                              nullptr, nullptr, nullptr));
    CANTER_CHECK(sws, Unsupported, "encode_image: no conversion to the '" << encoder << "' pixel format");
    const uint8_t* src_data[4] = {src.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    const int src_stride[4] = {w * c, 0, 0, 0};
    sws_scale(sws.get(), src_data, src_stride, 0, h, frame->data, frame->linesize);

    PacketPtr pkt = make_packet();
    std::string out;
    ret = avcodec_send_frame(ctx.get(), frame.get());
    if (ret >= 0) ret = avcodec_send_frame(ctx.get(), nullptr);
    while (ret >= 0) {
        ret = avcodec_receive_packet(ctx.get(), pkt.get());
        if (ret < 0) break;
        out.append(reinterpret_cast<const char*>(pkt->data), size_t(pkt->size));
        av_packet_unref(pkt.get());
    }
    CANTER_CHECK(ret == AVERROR_EOF && !out.empty(), Internal,
                 "encode_image: the '" << encoder << "' encoder failed: " << describe_av_error(ret));
    return out;
}

}  // namespace canter::media
