#include "models/turbo_vaed/turbo_vaed_blocks.h"

#include <ATen/ATen.h>

#include "util/check.h"

namespace canter::turbo_vaed {

namespace {

void visit_conv(models::WeightVisitor& v, const std::string& prefix, at::Tensor& w, at::Tensor& b,
                std::vector<int64_t> shape) {
    const int64_t out = shape[0];
    v.visit(prefix + ".weight", w, shape, at::kFloat);
    v.visit(prefix + ".bias", b, {out}, at::kFloat);
}

// Repeats the first and last frame `pad` times in front of / behind the clip.
at::Tensor replicate_pad_time(const at::Tensor& x, int64_t pad) {
    if (pad == 0) return x;
    const int64_t t = x.size(2);
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes[2] = pad;
    return at::cat({x.narrow(2, 0, 1).expand(sizes), x, x.narrow(2, t - 1, 1).expand(sizes)}, 2);
}

}  // namespace

at::Tensor channel_rms_norm(const at::Tensor& x, double eps) {
    const at::Tensor xf = x.to(at::kFloat);
    const at::Tensor inv = at::rsqrt(xf.pow(2).mean(1, /*keepdim=*/true).add_(eps));
    return (x * inv).to(x.scalar_type());
}

at::Tensor rms_norm_silu(const at::Tensor& x, double eps) {
    at::Tensor h = channel_rms_norm(x, eps);
    at::silu_(h);
    return h;
}

void ReplicateConv3d::visit(models::WeightVisitor& v, const std::string& prefix, int in, int out,
                            std::array<int64_t, 3> k, bool sep) {
    separable = sep;
    kernel = k;
    if (!separable) {
        visit_conv(v, prefix + ".conv", weight, bias, {out, in, k[0], k[1], k[2]});
    } else {
        visit_conv(v, prefix + ".depthwise_conv", dw_weight, dw_bias, {in, 1, k[0], k[1], k[2]});
        visit_conv(v, prefix + ".pointwise_conv", pw_weight, pw_bias, {out, in, 1, 1, 1});
    }
}

at::Tensor ReplicateConv3d::forward(const at::Tensor& x) const {
    const at::Tensor padded = replicate_pad_time(x, (kernel[0] - 1) / 2);
    const std::vector<int64_t> stride = {1, 1, 1};
    const std::vector<int64_t> padding = {0, kernel[1] / 2, kernel[2] / 2};
    const std::vector<int64_t> dilation = {1, 1, 1};
    if (!separable) return at::conv3d(padded, weight, bias, stride, padding, dilation, 1);
    at::Tensor h = at::conv3d(padded, dw_weight, dw_bias, stride, padding, dilation,
                              /*groups=*/dw_weight.size(0));
    return at::conv3d(h, pw_weight, pw_bias);
}

void ResnetBlock::visit(models::WeightVisitor& v, const std::string& prefix, int in, int out,
                        bool depthwise, int dw_kernel_size, bool relu, double eps) {
    relu_first = relu;
    shortcut_eps = eps;
    has_shortcut = in != out;
    const int64_t k = depthwise ? dw_kernel_size : 3;
    conv1.visit(v, prefix + ".conv1", in, out, {k, k, k}, depthwise);
    conv2.visit(v, prefix + ".conv2", out, out, {k, k, k}, depthwise);
    if (has_shortcut) conv_shortcut.visit(v, prefix + ".conv_shortcut", in, out, {1, 1, 1}, depthwise);
}

at::Tensor ResnetBlock::forward(const at::Tensor& x) const {
    at::Tensor h = channel_rms_norm(x, 1e-8);
    h = relu_first ? at::relu_(h) : at::silu_(h);
    h = conv1.forward(h);
    h = rms_norm_silu(h, 1e-8);
    h = conv2.forward(h);
    if (has_shortcut) return h.add_(conv_shortcut.forward(channel_rms_norm(x, shortcut_eps)));
    return h.add_(x);
}

void Upsampler::visit(models::WeightVisitor& v, const std::string& prefix, int channels,
                      bool is_temporal) {
    temporal = is_temporal;
    if (temporal) time_conv.visit(v, prefix + ".time_conv", channels, 2 * channels, {3, 1, 1}, false);
    visit_conv(v, prefix + ".resample.1", weight, bias, {channels, channels, 3, 3});
}

at::Tensor Upsampler::forward(const at::Tensor& x, bool is_first_chunk) const {
    at::Tensor h = x;
    if (temporal) {
        const int64_t b = x.size(0), c = x.size(1), t = x.size(2), hh = x.size(3), w = x.size(4);
        h = time_conv.forward(x);
        // Channel halves [0, C) and [C, 2C) become frames 2t and 2t + 1.
        h = h.view({b, 2, c, t, hh, w}).permute({0, 2, 3, 1, 4, 5}).reshape({b, c, 2 * t, hh, w});
        // The first chunk's frame 0 is the image frame; its duplicate is dropped.
        if (is_first_chunk) h = h.narrow(2, 1, 2 * t - 1);
    }
    // Nearest x2 is exact in any dtype; time keeps its size.
    h = at::upsample_nearest3d(h.contiguous(), {h.size(2), 2 * h.size(3), 2 * h.size(4)});
    return per_frame_conv2d(h, weight, bias);
}

at::Tensor per_frame_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    const std::vector<int64_t> padding = {0, weight.size(2) / 2, weight.size(3) / 2};
    return at::conv3d(x, weight.unsqueeze(2), bias, {1, 1, 1}, padding);
}

at::Tensor per_frame_pixel_shuffle(const at::Tensor& x, int64_t r) {
    const int64_t b = x.size(0), c = x.size(1) / (r * r), t = x.size(2), h = x.size(3), w = x.size(4);
    CANTER_CHECK(x.size(1) == c * r * r, Internal,
                 "pixel shuffle: " << x.size(1) << " channels not divisible by " << r * r);
    // [b, c, i, j, t, h, w] -> [b, c, t, h, i, w, j]
    return x.reshape({b, c, r, r, t, h, w})
        .permute({0, 1, 4, 5, 2, 6, 3})
        .reshape({b, c, t, h * r, w * r});
}

at::Tensor unpatchify(const at::Tensor& x, int64_t p) {
    if (p == 1) return x;
    const int64_t b = x.size(0), c = x.size(1) / (p * p), t = x.size(2), h = x.size(3), w = x.size(4);
    CANTER_CHECK(x.size(1) == c * p * p, Internal,
                 "unpatchify: " << x.size(1) << " channels not divisible by " << p * p);
    // [b, c, j, i, t, h, w] -> [b, c, t, h, i, w, j]
    return x.reshape({b, c, p, p, t, h, w})
        .permute({0, 1, 4, 5, 3, 6, 2})
        .reshape({b, c, t, h * p, w * p});
}

}  // namespace canter::turbo_vaed
