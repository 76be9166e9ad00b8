#include "pipeline/packing.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "util/check.h"

namespace canter::pipeline {

DataProxyConfig DataProxyConfig::from_json(const nlohmann::json& j) {
    DataProxyConfig c;
    CANTER_CHECK(j.is_object(), InvalidArgument, "data_proxy_config must be a JSON object");
    auto get_int = [&](const char* field, int* out) {
        if (!j.contains(field)) return;
        CANTER_CHECK(j[field].is_number_integer(), InvalidArgument,
                     "data_proxy_config field '" << field << "' must be an integer, got " << j[field].dump());
        *out = j[field].get<int>();
    };
    get_int("t_patch_size", &c.t_patch_size);
    get_int("patch_size", &c.patch_size);
    get_int("frame_receptive_field", &c.frame_receptive_field);
    get_int("ref_audio_offset", &c.ref_audio_offset);
    get_int("text_offset", &c.text_offset);
    auto get_string = [&](const char* field, std::string* out) {
        if (!j.contains(field)) return;
        CANTER_CHECK(j[field].is_string(), InvalidArgument,
                     "data_proxy_config field '" << field << "' must be a string, got " << j[field].dump());
        *out = j[field].get<std::string>();
    };
    get_string("coords_style", &c.coords_style);
    get_string("spatial_rope_interpolation", &c.spatial_rope_interpolation);
    CANTER_CHECK(c.coords_style == "v1" || c.coords_style == "v2", InvalidArgument,
                 "data_proxy_config field 'coords_style' must be \"v1\" or \"v2\", got \"" << c.coords_style << "\"");
    CANTER_CHECK(c.spatial_rope_interpolation == "extra", Unsupported,
                 "data_proxy_config field 'spatial_rope_interpolation' = \""
                     << c.spatial_rope_interpolation << "\" is not supported (only \"extra\")");
    CANTER_CHECK(c.text_offset == 0, Unsupported,
                 "data_proxy_config field 'text_offset' = " << c.text_offset << " is not supported (only 0)");
    CANTER_CHECK(c.t_patch_size >= 1 && c.patch_size >= 1, InvalidArgument,
                 "data_proxy_config: patch sizes must be >= 1");
    CANTER_CHECK(c.frame_receptive_field >= 0, InvalidArgument,
                 "data_proxy_config: frame_receptive_field must be >= 0");
    return c;
}

DataProxyConfig DataProxyConfig::sr_default() {
    DataProxyConfig c;
    c.coords_style = "v1";
    return c;
}

at::Tensor PackedInput::padded_tokens(int64_t width) const {
    auto pad = [&](const at::Tensor& t) {
        return at::constant_pad_nd(t.to(at::kFloat), {0, width - t.size(1)});
    };
    return at::cat({pad(seq.video), pad(seq.audio), pad(seq.text)}, 0);
}

PackedInput pack(const at::Tensor& video, const at::Tensor& audio, const at::Tensor& text,
                 int64_t text_len, const DataProxyConfig& cfg) {
    CANTER_CHECK(video.dim() == 5 && video.size(0) == 1, InvalidArgument,
                 "video latent must be [1, C, T, H, W], got " << video.sizes());
    CANTER_CHECK(audio.dim() == 3 && audio.size(0) == 1, InvalidArgument,
                 "audio latent must be [1, A, C], got " << audio.sizes());
    CANTER_CHECK(text.dim() == 3 && text.size(0) == 1, InvalidArgument,
                 "text features must be [1, N, C], got " << text.sizes());
    CANTER_CHECK(text_len >= 0 && text_len <= text.size(1), InvalidArgument,
                 "text length " << text_len << " outside [0, " << text.size(1) << "]");
    const int64_t C = video.size(1), T = video.size(2), H = video.size(3), W = video.size(4);
    const int64_t pt = cfg.t_patch_size, ph = cfg.patch_size, pw = cfg.patch_size;
    CANTER_CHECK(T % pt == 0 && H % ph == 0 && W % pw == 0, InvalidArgument,
                 "video latent [T=" << T << ", H=" << H << ", W=" << W
                                    << "] is not divisible by the patch size " << pt << "x" << ph << "x" << pw);
    PackGeometry g;
    g.channels = C;
    g.frames = T;
    g.height = H;
    g.width = W;
    g.tokens_t = T / pt;
    g.tokens_h = H / ph;
    g.tokens_w = W / pw;
    g.audio_frames = audio.size(1);
    g.audio_channels = audio.size(2);
    g.text_tokens = text_len;

    PackedInput out;
    // [1,C,T,H,W] -> [Tt, pt, Th, ph, Tw, pw, C] ... -> tokens [Tt*Th*Tw, C*pt*ph*pw]
    at::Tensor v = video.to(at::kFloat)[0].view({C, g.tokens_t, pt, g.tokens_h, ph, g.tokens_w, pw});
    out.seq.video = v.permute({1, 3, 5, 0, 2, 4, 6}).reshape({g.tokens_t * g.tokens_h * g.tokens_w, C * pt * ph * pw});
    out.seq.audio = audio.to(at::kFloat)[0].contiguous();
    out.seq.text = text.to(at::kFloat)[0].narrow(0, 0, text_len).contiguous();

    const int64_t nv = out.seq.num_video(), na = g.audio_frames, nt = text_len, L = nv + na + nt;
    const bool v2 = cfg.coords_style == "v2";
    at::Tensor coords = at::zeros({L, 9}, at::kFloat);
    auto acc = coords.accessor<float, 2>();
    int64_t row = 0;
    for (int64_t t = 0; t < g.tokens_t; ++t)
        for (int64_t h = 0; h < g.tokens_h; ++h)
            for (int64_t w = 0; w < g.tokens_w; ++w, ++row) {
                // "extra" spatial interpolation: the reference size is the token grid itself.
                const float vals[9] = {float(t), float(h), float(w),
                                       float(g.tokens_t), float(g.tokens_h), float(g.tokens_w),
                                       float(g.tokens_t), float(g.tokens_h), float(g.tokens_w)};
                for (int c = 0; c < 9; ++c) acc[row][c] = vals[c];
            }
    // Audio frames share the video's time axis: reference length = video latent frames
    // (v2 derives it from the audio length, (A-1)/4 + 1).
    const float audio_ref_t = v2 ? float((na - 1) / 4 + 1) : float(g.tokens_t);
    for (int64_t a = 0; a < na; ++a, ++row) {
        const float vals[9] = {float(a), 0, 0, float(na), 1, 1, audio_ref_t, 1, 1};
        for (int c = 0; c < 9; ++c) acc[row][c] = vals[c];
    }
    // Text: v2 places it before time 0 with reference 1 (no rotation); v1 at 0..N-1, ref 2.
    for (int64_t i = 0; i < nt; ++i, ++row) {
        const float t = v2 ? float(i - nt) : float(i);
        const float vals[9] = {t, 0, 0, float(nt), 1, 1, v2 ? 1.f : 2.f, 1, 1};
        for (int c = 0; c < 9; ++c) acc[row][c] = vals[c];
    }
    out.seq.coords = coords;

    out.modality = at::cat({at::zeros({nv}, at::kLong), at::ones({na}, at::kLong),
                            at::full({nt}, 2, at::kLong)});

    // Local attention: video frame i sees frames i-rf..i+rf, plus all audio and text keys;
    // audio and text queries see everything.
    const int64_t frame = g.tokens_h * g.tokens_w, Tt = g.tokens_t, rf = cfg.frame_receptive_field;
    out.local_q_ranges = at::zeros({Tt + 2, 2}, at::kInt);
    out.local_k_ranges = at::zeros({Tt + 2, 2}, at::kInt);
    auto qa = out.local_q_ranges.accessor<int, 2>();
    auto ka = out.local_k_ranges.accessor<int, 2>();
    auto add = [&](int64_t r, int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
        qa[r][0] = int(q0); qa[r][1] = int(q1); ka[r][0] = int(k0); ka[r][1] = int(k1);
        out.seq.local_ranges.push_back({q0, q1, k0, k1});
    };
    for (int64_t t = 0; t < Tt; ++t)
        add(t, t * frame, (t + 1) * frame, std::max<int64_t>(0, t - rf) * frame,
            std::min<int64_t>(Tt, t + rf + 1) * frame);
    add(Tt, 0, nv, nv, L);
    add(Tt + 1, nv, L, 0, L);
    out.geometry = g;
    return out;
}

at::Tensor unpack_video(const at::Tensor& rows, const PackGeometry& g, const DataProxyConfig& cfg) {
    const int64_t pt = cfg.t_patch_size, ph = cfg.patch_size, pw = cfg.patch_size, C = g.channels;
    CANTER_CHECK(rows.dim() == 2 && rows.size(0) == g.tokens_t * g.tokens_h * g.tokens_w &&
                     rows.size(1) == pt * ph * pw * C,
                 InvalidArgument, "video velocity rows " << rows.sizes() << " do not match the packed geometry");
    // "(T H W) (pT pH pW C) -> C (T pT) (H pH) (W pW)"
    at::Tensor v = rows.view({g.tokens_t, g.tokens_h, g.tokens_w, pt, ph, pw, C});
    return v.permute({6, 0, 3, 1, 4, 2, 5}).reshape({1, C, g.frames, g.height, g.width}).contiguous();
}

at::Tensor unpack_audio(const at::Tensor& rows, const PackGeometry& g) {
    CANTER_CHECK(rows.dim() == 2 && rows.size(0) == g.audio_frames && rows.size(1) >= g.audio_channels,
                 InvalidArgument, "audio velocity rows " << rows.sizes() << " do not match the packed geometry");
    return rows.narrow(1, 0, g.audio_channels).unsqueeze(0).contiguous();
}

}  // namespace canter::pipeline
