#include "io/media/media_probe.h"

#include <ATen/ATen.h>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <filesystem>
#include <limits>
#include <system_error>
#include <vector>

#include "io/media/ffmpeg_common.h"
#include "util/check.h"

namespace canter::media {

namespace {

using namespace detail;

InputPtr open_input(const std::string& path) {
    init_ffmpeg();
    std::error_code ec;
    CANTER_CHECK(std::filesystem::exists(path, ec), NotFound, "media file '" << path << "' does not exist");
    CANTER_CHECK(!std::filesystem::is_directory(path, ec), InvalidArgument, "media file '" << path << "' is a folder");
    clear_ffmpeg_message();
    AVFormatContext* raw = nullptr;
    int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    CANTER_CHECK(ret >= 0, Corruption, "cannot open media file '" << path << "': " << describe_av_error(ret));
    InputPtr in(raw);
    ret = avformat_find_stream_info(in.get(), nullptr);
    CANTER_CHECK(ret >= 0, Corruption, "cannot read the streams of '" << path << "': " << describe_av_error(ret));
    return in;
}

double seconds(int64_t ts, AVRational tb) { return ts == AV_NOPTS_VALUE ? 0.0 : double(ts) * av_q2d(tb); }

}  // namespace

MediaInfo probe_media(const std::string& path) {
    InputPtr in = open_input(path);
    MediaInfo info;
    info.format = in->iformat->name ? in->iformat->name : "";
    if (in->duration != AV_NOPTS_VALUE) info.duration_s = double(in->duration) / AV_TIME_BASE;
    const int vi = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const int ai = av_find_best_stream(in.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (vi >= 0) {
        const AVStream* st = in->streams[vi];
        info.has_video = true;
        info.video_codec = avcodec_get_name(st->codecpar->codec_id);
        const char* pf = av_get_pix_fmt_name(AVPixelFormat(st->codecpar->format));
        info.pix_fmt = pf ? pf : "";
        info.width = st->codecpar->width;
        info.height = st->codecpar->height;
        const AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        info.fps = rate.den ? av_q2d(rate) : 0.0;
    }
    if (ai >= 0) {
        const AVStream* st = in->streams[ai];
        info.has_audio = true;
        info.audio_codec = avcodec_get_name(st->codecpar->codec_id);
        info.audio_sample_rate = st->codecpar->sample_rate;
        info.audio_channels = st->codecpar->ch_layout.nb_channels;
    }

    // Demux everything: count video packets, measure each stream's presentation span.
    int64_t v_first = std::numeric_limits<int64_t>::max(), v_end = std::numeric_limits<int64_t>::min();
    int64_t a_first = v_first, a_end = v_end;
    PacketPtr pkt = make_packet();
    int ret;
    while ((ret = av_read_frame(in.get(), pkt.get())) >= 0) {
        const int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->stream_index == vi) {
            ++info.video_frames;
            if (pts != AV_NOPTS_VALUE) {
                v_first = std::min(v_first, pts);
                v_end = std::max(v_end, pts + pkt->duration);
            }
        } else if (pkt->stream_index == ai && pts != AV_NOPTS_VALUE) {
            a_first = std::min(a_first, pts);
            a_end = std::max(a_end, pts + pkt->duration);
        }
        av_packet_unref(pkt.get());
    }
    CANTER_CHECK(ret == AVERROR_EOF, Corruption, "cannot read '" << path << "': " << describe_av_error(ret));

    // Stream durations come from the container when it has them (MP4: the edit list, which
    // excludes the AAC encoder's priming samples); else from the packet span.
    if (vi >= 0) {
        const AVStream* st = in->streams[vi];
        info.video_duration_s = st->duration != AV_NOPTS_VALUE && st->duration > 0
                                    ? seconds(st->duration, st->time_base)
                                    : (v_end > v_first ? seconds(v_end - v_first, st->time_base) : 0.0);
    }
    if (ai >= 0) {
        const AVStream* st = in->streams[ai];
        info.audio_duration_s = st->duration != AV_NOPTS_VALUE && st->duration > 0
                                    ? seconds(st->duration, st->time_base)
                                    : (a_end > a_first ? seconds(a_end - a_first, st->time_base) : 0.0);
        info.audio_samples = int64_t(info.audio_duration_s * info.audio_sample_rate + 0.5);
    }
    return info;
}

at::Tensor read_video_frames_rgb(const std::string& path, int64_t max_frames) {
    InputPtr in = open_input(path);
    const AVCodec* codec = nullptr;
    const int vi = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    CANTER_CHECK(vi >= 0 && codec, Corruption, "'" << path << "' has no decodable video stream");
    CodecContextPtr dec(avcodec_alloc_context3(codec));
    CANTER_CHECK(dec, OutOfMemory, "avcodec_alloc_context3 failed");
    CANTER_CHECK(avcodec_parameters_to_context(dec.get(), in->streams[vi]->codecpar) >= 0, Internal,
                 "avcodec_parameters_to_context failed");
    int ret = avcodec_open2(dec.get(), codec, nullptr);
    CANTER_CHECK(ret >= 0, Unsupported, "'" << path << "': cannot open the " << codec->name << " decoder: " << describe_av_error(ret));

    std::vector<at::Tensor> out;
    SwsPtr sws;
    PacketPtr pkt = make_packet();
    FramePtr frame = make_frame();
    auto receive_all = [&]() {
        for (;;) {
            const int r = avcodec_receive_frame(dec.get(), frame.get());
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
            CANTER_CHECK(r >= 0, Corruption, "'" << path << "': video decoding failed: " << describe_av_error(r));
            if (max_frames < 0 || int64_t(out.size()) < max_frames) {
                const int w = frame->width, h = frame->height;
                sws.reset(sws_getCachedContext(sws.release(), w, h, AVPixelFormat(frame->format), w, h,
                                               AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                               nullptr, nullptr, nullptr));
                CANTER_CHECK(sws, Unsupported, "'" << path << "': no conversion of its video frames to RGB");
                at::Tensor rgb = at::empty({h, w, 3}, at::kByte);
                uint8_t* dst[4] = {rgb.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
                int dst_stride[4] = {w * 3, 0, 0, 0};
                sws_scale(sws.get(), frame->data, frame->linesize, 0, h, dst, dst_stride);
                out.push_back(rgb);
            }
            av_frame_unref(frame.get());
        }
    };
    while ((max_frames < 0 || int64_t(out.size()) < max_frames) && (ret = av_read_frame(in.get(), pkt.get())) >= 0) {
        if (pkt->stream_index == vi) {
            ret = avcodec_send_packet(dec.get(), pkt.get());
            av_packet_unref(pkt.get());
            CANTER_CHECK(ret >= 0, Corruption, "'" << path << "': video decoding failed: " << describe_av_error(ret));
            receive_all();
        } else {
            av_packet_unref(pkt.get());
        }
    }
    avcodec_send_packet(dec.get(), nullptr);
    receive_all();
    CANTER_CHECK(!out.empty(), Corruption, "'" << path << "' has no video frames");
    return at::stack(out);
}

}  // namespace canter::media
