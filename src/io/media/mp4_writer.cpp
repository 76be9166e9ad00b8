#include "io/media/mp4_writer.h"

#include <ATen/ATen.h>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
}

#include <cstring>

#include "io/media/atomic_file.h"
#include "io/media/ffmpeg_common.h"
#include "util/check.h"

namespace canter::media {

namespace {

using namespace detail;

// Owns the output context and its AVIO handle.
struct Output {
    AVFormatContext* ctx = nullptr;
    ~Output() {
        if (ctx) {
            if (ctx->pb) avio_closep(&ctx->pb);
            avformat_free_context(ctx);
        }
    }
};

struct Writer {
    std::string path;  // the user's path, for messages
    Output out;
    CodecContextPtr venc, aenc;
    AVStream* vstream = nullptr;
    AVStream* astream = nullptr;
    PacketPtr pkt = make_packet();

    // Drains every packet the encoder has ready into the muxer.
    void drain(AVCodecContext* enc, AVStream* stream) {
        for (;;) {
            const int ret = avcodec_receive_packet(enc, pkt.get());
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
            CANTER_CHECK(ret >= 0, Internal,
                         "writing '" << path << "': " << enc->codec->name << " encoder failed: " << describe_av_error(ret));
            av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
            pkt->stream_index = stream->index;
            const int wret = av_interleaved_write_frame(out.ctx, pkt.get());  // takes the packet's data
            CANTER_CHECK(wret >= 0, IO, "writing '" << path << "': " << describe_av_error(wret));
        }
    }

    void send(AVCodecContext* enc, AVStream* stream, const AVFrame* frame) {
        const int ret = avcodec_send_frame(enc, frame);
        CANTER_CHECK(ret >= 0, Internal,
                     "writing '" << path << "': " << enc->codec->name << " encoder refused a frame: " << describe_av_error(ret));
        drain(enc, stream);
    }
};

}  // namespace

void write_mp4(const std::string& path, const at::Tensor& frames, const at::Tensor& audio, int sample_rate,
               const Mp4Options& options) {
    init_ffmpeg();
    // --- validate everything before creating a file -------------------------------------------
    CANTER_CHECK(frames.defined() && frames.dim() == 4 && frames.scalar_type() == at::kByte && frames.size(3) == 3,
                 InvalidArgument,
                 "cannot write '" << path << "': frames must be uint8 [F, H, W, 3], got "
                                  << (frames.defined() ? frames.sizes() : at::IntArrayRef{}) << " "
                                  << (frames.defined() ? frames.scalar_type() : at::kByte));
    const int64_t n_frames = frames.size(0), height = frames.size(1), width = frames.size(2);
    CANTER_CHECK(n_frames >= 1 && height >= 1 && width >= 1 && height <= 8192 && width <= 8192, InvalidArgument,
                 "cannot write '" << path << "': frames " << frames.sizes()
                                  << " need at least one frame and 1..8192 pixels per side");
    CANTER_CHECK(options.fps >= 1 && options.fps <= 240, InvalidArgument,
                 "cannot write '" << path << "': fps must be 1..240, got " << options.fps);
    CANTER_CHECK(options.crf >= 0 && options.crf <= 51, InvalidArgument,
                 "cannot write '" << path << "': crf must be 0..51, got " << options.crf);
    CANTER_CHECK(options.audio_bitrate >= 0, InvalidArgument,
                 "cannot write '" << path << "': audio_bitrate must be >= 0, got " << options.audio_bitrate);
    const bool has_audio = audio.defined();
    int64_t channels = 0, n_samples = 0;
    if (has_audio) {
        CANTER_CHECK(audio.dim() == 2 && at::isFloatingType(audio.scalar_type()), InvalidArgument,
                     "cannot write '" << path << "': audio must be float [channels, samples], got " << audio.sizes()
                                      << " " << audio.scalar_type());
        channels = audio.size(0);
        n_samples = audio.size(1);
        CANTER_CHECK(channels >= 1 && channels <= 8, InvalidArgument,
                     "cannot write '" << path << "': audio channels must be 1..8, got " << channels);
        CANTER_CHECK(n_samples >= 1, InvalidArgument, "cannot write '" << path << "': audio has no samples");
        CANTER_CHECK(sample_rate > 0, InvalidArgument,
                     "cannot write '" << path << "': sample_rate must be positive, got " << sample_rate);
    }
    // libx264 prints its own complaint to stderr for an unknown preset; check it here instead.
    static const char* const kPresets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                           "medium",    "slow",      "slower",   "veryslow", "placebo"};
    std::string presets;
    bool preset_ok = false;
    for (const char* p : kPresets) {
        preset_ok |= options.preset == p;
        presets += (presets.empty() ? "" : ", ") + std::string(p);
    }
    CANTER_CHECK(preset_ok, InvalidArgument,
                 "cannot write '" << path << "': unknown x264 preset '" << options.preset << "' (" << presets << ")");
    const AVCodec* vcodec = avcodec_find_encoder_by_name("libx264");
    CANTER_CHECK(vcodec, Unsupported,
                 "cannot write '" << path << "': this FFmpeg build has no libx264 encoder (H.264)");
    const AVCodec* acodec = nullptr;
    if (has_audio) {
        acodec = avcodec_find_encoder_by_name("aac");
        CANTER_CHECK(acodec, Unsupported, "cannot write '" << path << "': this FFmpeg build has no AAC encoder");
        bool rate_ok = acodec->supported_samplerates == nullptr;
        std::string rates;
        for (const int* r = acodec->supported_samplerates; r && *r; ++r) {
            rate_ok |= *r == sample_rate;
            rates += (rates.empty() ? "" : ", ") + std::to_string(*r);
        }
        CANTER_CHECK(rate_ok, InvalidArgument,
                     "cannot write '" << path << "': the AAC encoder does not support sample_rate " << sample_rate
                                      << " (supported: " << rates << ")");
    }
    const int enc_w = int(width + (width & 1)), enc_h = int(height + (height & 1));  // yuv420p: even

    AtomicOutput target(path);
    Writer w;
    w.path = path;
    clear_ffmpeg_message();
    int ret = avformat_alloc_output_context2(&w.out.ctx, nullptr, "mp4", target.temp_path().c_str());
    CANTER_CHECK(ret >= 0 && w.out.ctx, Unsupported,
                 "cannot write '" << path << "': no MP4 muxer: " << describe_av_error(ret));
    const bool global_header = w.out.ctx->oformat->flags & AVFMT_GLOBALHEADER;

    // --- video: libx264 ------------------------------------------------------------------------
    w.venc.reset(avcodec_alloc_context3(vcodec));
    CANTER_CHECK(w.venc, OutOfMemory, "avcodec_alloc_context3 failed");
    AVCodecContext* venc = w.venc.get();
    venc->width = enc_w;
    venc->height = enc_h;
    venc->pix_fmt = AV_PIX_FMT_YUV420P;
    venc->time_base = {1, options.fps};
    venc->framerate = {options.fps, 1};
    venc->sample_aspect_ratio = {1, 1};
    venc->color_range = AVCOL_RANGE_MPEG;
    venc->colorspace = AVCOL_SPC_SMPTE170M;  // the matrix libswscale uses by default (BT.601)
    if (global_header) venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* vopts = nullptr;
    av_dict_set(&vopts, "preset", options.preset.c_str(), 0);
    av_dict_set_int(&vopts, "crf", options.crf, 0);
    ret = avcodec_open2(venc, vcodec, &vopts);
    av_dict_free(&vopts);
    CANTER_CHECK(ret >= 0, InvalidArgument,
                 "cannot write '" << path << "': cannot open libx264 (preset '" << options.preset << "', crf "
                                  << options.crf << ", " << enc_w << "x" << enc_h << "): " << describe_av_error(ret));
    w.vstream = avformat_new_stream(w.out.ctx, nullptr);
    CANTER_CHECK(w.vstream, OutOfMemory, "avformat_new_stream failed");
    CANTER_CHECK(avcodec_parameters_from_context(w.vstream->codecpar, venc) >= 0, Internal,
                 "avcodec_parameters_from_context failed");
    w.vstream->time_base = venc->time_base;
    w.vstream->avg_frame_rate = venc->framerate;

    // --- audio: native AAC, planar float --------------------------------------------------------
    AVCodecContext* aenc = nullptr;
    if (has_audio) {
        w.aenc.reset(avcodec_alloc_context3(acodec));
        CANTER_CHECK(w.aenc, OutOfMemory, "avcodec_alloc_context3 failed");
        aenc = w.aenc.get();
        aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
        aenc->sample_rate = sample_rate;
        av_channel_layout_default(&aenc->ch_layout, int(channels));
        aenc->time_base = {1, sample_rate};
        if (options.audio_bitrate > 0) aenc->bit_rate = options.audio_bitrate;
        if (global_header) aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        ret = avcodec_open2(aenc, acodec, nullptr);
        CANTER_CHECK(ret >= 0, InvalidArgument,
                     "cannot write '" << path << "': cannot open the AAC encoder (" << channels << " channels, "
                                      << sample_rate << " Hz, bitrate " << options.audio_bitrate
                                      << "): " << describe_av_error(ret));
        w.astream = avformat_new_stream(w.out.ctx, nullptr);
        CANTER_CHECK(w.astream, OutOfMemory, "avformat_new_stream failed");
        CANTER_CHECK(avcodec_parameters_from_context(w.astream->codecpar, aenc) >= 0, Internal,
                     "avcodec_parameters_from_context failed");
        w.astream->time_base = aenc->time_base;
    }

    // --- file ------------------------------------------------------------------------------------
    ret = avio_open(&w.out.ctx->pb, target.temp_path().c_str(), AVIO_FLAG_WRITE);
    CANTER_CHECK(ret >= 0, IO, "cannot write '" << path << "': " << describe_av_error(ret));
    AVDictionary* mux_opts = nullptr;
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(w.out.ctx, &mux_opts);
    av_dict_free(&mux_opts);
    CANTER_CHECK(ret >= 0, IO, "cannot write '" << path << "': MP4 header: " << describe_av_error(ret));

    // --- encode, interleaving by time --------------------------------------------------------------
    const at::Tensor rgb = frames.detach().to(at::kCPU).contiguous();
    at::Tensor padded;  // [enc_h, enc_w, 3] scratch for odd sizes
    if (enc_w != width || enc_h != height) padded = at::empty({enc_h, enc_w, 3}, at::kByte);
    SwsPtr sws(sws_getContext(enc_w, enc_h, AV_PIX_FMT_RGB24, enc_w, enc_h, AV_PIX_FMT_YUV420P,
                              SWS_BICUBIC, nullptr, nullptr, nullptr));
    CANTER_CHECK(sws, Internal, "sws_getContext RGB24 -> YUV420P failed");
    FramePtr vframe = make_frame();
    vframe->format = AV_PIX_FMT_YUV420P;
    vframe->width = enc_w;
    vframe->height = enc_h;
    CANTER_CHECK(av_frame_get_buffer(vframe.get(), 0) >= 0, OutOfMemory, "av_frame_get_buffer failed");

    at::Tensor pcm;  // float [C, N], clamped
    FramePtr aframe;
    int frame_size = 0;
    if (has_audio) {
        pcm = at::nan_to_num(audio.detach().to(at::kCPU, at::kFloat), 0.0).clamp(-1.0, 1.0).contiguous();
        frame_size = (acodec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) || aenc->frame_size <= 0
                         ? 1024
                         : aenc->frame_size;
        aframe = make_frame();
    }

    int64_t next_video = 0, next_sample = 0;
    while (next_video < n_frames || (has_audio && next_sample < n_samples)) {
        const bool video_turn =
            next_video < n_frames &&
            (!has_audio || next_sample >= n_samples ||
             av_compare_ts(next_video, venc->time_base, next_sample, aenc->time_base) <= 0);
        if (video_turn) {
            CANTER_CHECK(av_frame_make_writable(vframe.get()) >= 0, OutOfMemory, "av_frame_make_writable failed");
            at::Tensor src = rgb[next_video];
            if (padded.defined()) {
                padded.slice(0, 0, height).slice(1, 0, width).copy_(src);
                if (enc_w != width) padded.slice(0, 0, height).select(1, enc_w - 1).copy_(src.select(1, width - 1));
                if (enc_h != height) padded.select(0, enc_h - 1).copy_(padded.select(0, height - 1));
                src = padded;
            }
            const uint8_t* src_data[4] = {src.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
            const int src_stride[4] = {enc_w * 3, 0, 0, 0};
            sws_scale(sws.get(), src_data, src_stride, 0, enc_h, vframe->data, vframe->linesize);
            vframe->pts = next_video++;
            w.send(venc, w.vstream, vframe.get());
        } else {
            const int64_t n = std::min<int64_t>(frame_size, n_samples - next_sample);
            av_frame_unref(aframe.get());
            aframe->format = AV_SAMPLE_FMT_FLTP;
            aframe->sample_rate = sample_rate;
            aframe->nb_samples = int(n);
            CANTER_CHECK(av_channel_layout_copy(&aframe->ch_layout, &aenc->ch_layout) >= 0, OutOfMemory,
                         "av_channel_layout_copy failed");
            CANTER_CHECK(av_frame_get_buffer(aframe.get(), 0) >= 0, OutOfMemory, "av_frame_get_buffer failed");
            const float* p = pcm.data_ptr<float>();
            for (int64_t c = 0; c < channels; ++c)
                std::memcpy(aframe->data[c], p + c * n_samples + next_sample, size_t(n) * sizeof(float));
            aframe->pts = next_sample;
            next_sample += n;
            w.send(aenc, w.astream, aframe.get());
        }
    }
    w.send(venc, w.vstream, nullptr);  // flush
    if (has_audio) w.send(aenc, w.astream, nullptr);
    ret = av_write_trailer(w.out.ctx);
    CANTER_CHECK(ret >= 0, IO, "cannot write '" << path << "': MP4 trailer: " << describe_av_error(ret));
    ret = avio_closep(&w.out.ctx->pb);
    CANTER_CHECK(ret >= 0, IO, "cannot write '" << path << "': " << describe_av_error(ret));
    target.commit();
}

}  // namespace canter::media
