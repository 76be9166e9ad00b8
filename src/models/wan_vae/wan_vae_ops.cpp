#include "models/wan_vae/wan_vae_ops.h"

#include <ATen/ATen.h>

#include <cmath>

#include "util/check.h"

namespace canter::wan_vae {

namespace {

void check_video(const at::Tensor& x, const char* op) {
    CANTER_CHECK(x.defined() && x.dim() == 5, InvalidArgument,
                 "Wan VAE " << op << ": expected a [B, C, T, H, W] tensor, got "
                            << (x.defined() ? shape_str(x.sizes().vec()) : "undefined"));
}

}  // namespace

at::Tensor patchify(const at::Tensor& x) {
    check_video(x, "patchify");
    const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    CANTER_CHECK(H % 2 == 0 && W % 2 == 0, InvalidArgument,
                 "Wan VAE patchify: H and W must be even, got " << shape_str(x.sizes().vec()));
    // [B, C, T, h, q, w, r] -> [B, C, r, q, T, h, w]
    return x.reshape({B, C, T, H / 2, 2, W / 2, 2})
        .permute({0, 1, 6, 4, 2, 3, 5})
        .reshape({B, C * 4, T, H / 2, W / 2});
}

at::Tensor unpatchify(const at::Tensor& x) {
    check_video(x, "unpatchify");
    const int64_t B = x.size(0), C4 = x.size(1), T = x.size(2), h = x.size(3), w = x.size(4);
    CANTER_CHECK(C4 % 4 == 0, InvalidArgument,
                 "Wan VAE unpatchify: channels must be a multiple of 4, got "
                     << shape_str(x.sizes().vec()));
    // [B, C, r, q, T, h, w] -> [B, C, T, h, q, w, r]
    return x.reshape({B, C4 / 4, 2, 2, T, h, w})
        .permute({0, 1, 4, 5, 3, 6, 2})
        .reshape({B, C4 / 4, T, h * 2, w * 2});
}

at::Tensor avg_down3d(const at::Tensor& x_in, int64_t out_channels, int64_t ft, int64_t fs) {
    check_video(x_in, "AvgDown3D");
    at::Tensor x = x_in;
    const int64_t pad_t = (ft - x.size(2) % ft) % ft;
    if (pad_t > 0) x = at::constant_pad_nd(x, {0, 0, 0, 0, pad_t, 0});
    const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    const int64_t f = ft * fs * fs;
    CANTER_CHECK(H % fs == 0 && W % fs == 0 && (C * f) % out_channels == 0, InvalidArgument,
                 "Wan VAE AvgDown3D: input " << shape_str(x_in.sizes().vec()) << " cannot go to "
                                             << out_channels << " channels with factors (" << ft
                                             << ", " << fs << ", " << fs << ")");
    const int64_t g = C * f / out_channels;
    at::Tensor y = x.reshape({B, C, T / ft, ft, H / fs, fs, W / fs, fs})
                       .permute({0, 1, 3, 5, 7, 2, 4, 6})
                       .reshape({B, out_channels, g, T / ft, H / fs, W / fs});
    return g == 1 ? y.squeeze(2).contiguous() : y.mean(2);
}

at::Tensor dup_up3d(const at::Tensor& x, int64_t out_channels, int64_t ft, int64_t fs,
                    bool first_chunk) {
    check_video(x, "DupUp3D");
    const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    const int64_t f = ft * fs * fs;
    CANTER_CHECK((out_channels * f) % C == 0, InvalidArgument,
                 "Wan VAE DupUp3D: input " << shape_str(x.sizes().vec()) << " cannot go to "
                                           << out_channels << " channels with factors (" << ft
                                           << ", " << fs << ", " << fs << ")");
    const int64_t r = out_channels * f / C;
    // Channel j = c*r + k reads input channel c; j splits as (o, it, ih, iw). A broadcast view
    // stands in for repeat_interleave so only the output is materialised.
    at::Tensor y = x.unsqueeze(2)
                       .expand({B, C, r, T, H, W})
                       .reshape({B, out_channels, ft, fs, fs, T, H, W})
                       .permute({0, 1, 5, 2, 6, 3, 7, 4})
                       .reshape({B, out_channels, T * ft, H * fs, W * fs});
    if (first_chunk && ft > 1) y = y.narrow(2, ft - 1, T * ft - (ft - 1)).contiguous();
    return y;
}

at::Tensor rms_norm_channels(const at::Tensor& x, const at::Tensor& gamma) {
    const int64_t C = x.size(1);
    CANTER_CHECK(gamma.numel() == C, InvalidArgument,
                 "Wan VAE RMS_norm: gamma has " << gamma.numel() << " elements for " << C
                                                << " channels");
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = C;
    // Same operation order as F.normalize(x, dim=1) * scale * gamma.
    const at::Tensor norm = at::norm(x, 2, {1}, /*keepdim=*/true).clamp_min_(1e-12);
    at::Tensor y = x / norm;
    y.mul_(std::sqrt(static_cast<double>(C)));
    y.mul_(gamma.reshape(shape));
    return y;
}

at::Tensor norm_silu(const at::Tensor& x, const at::Tensor& gamma) {
    at::Tensor y = rms_norm_channels(x, gamma);
    at::silu_(y);  // in place: y is a fresh tensor
    return y;
}

at::Tensor interleave_frames(const at::Tensor& y) {
    check_video(y, "upsample3d");
    const int64_t B = y.size(0), C2 = y.size(1), T = y.size(2), H = y.size(3), W = y.size(4);
    return y.reshape({B, 2, C2 / 2, T, H, W})
        .permute({0, 2, 3, 1, 4, 5})
        .reshape({B, C2 / 2, 2 * T, H, W});
}

}  // namespace canter::wan_vae
