// Building blocks of the TurboVAED decoder (upstream turbo_vaed_module.py). Activations are
// [B, C, T, H, W]. Each struct lists its tensors through visit() under the upstream state-dict
// key suffixes; visit() also records the config-derived shape facts forward() relies on.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <string>

#include "models/common/weights.h"

namespace canter::turbo_vaed {

// RMS over the channel dim (1) without affine: x * rsqrt(mean(x^2) + eps), variance in fp32.
at::Tensor channel_rms_norm(const at::Tensor& x, double eps);
// channel_rms_norm then SiLU (the activation runs in place on the fresh norm output).
at::Tensor rms_norm_silu(const at::Tensor& x, double eps);

// `TurboVAEDCausalConv3d` (plain, key `<p>.conv.*`) or
// `TurboVAEDCausalDepthwiseSeperableConv3d` (`<p>.depthwise_conv.*` then `<p>.pointwise_conv.*`).
// Despite the upstream name it is not causal: time is padded by replicating the first and the
// last frame (kt-1)/2 times each, space by zeros (k/2), so all sizes are kept.
struct ReplicateConv3d {
    bool separable = false;
    std::array<int64_t, 3> kernel{1, 1, 1};  // kt, kh, kw
    at::Tensor weight, bias;                 // plain:     [out, in, kt, kh, kw], [out]
    at::Tensor dw_weight, dw_bias;           // separable: [in, 1, kt, kh, kw], [in]
    at::Tensor pw_weight, pw_bias;           //            [out, in, 1, 1, 1], [out]

    void visit(models::WeightVisitor& v, const std::string& prefix, int in, int out,
               std::array<int64_t, 3> kernel, bool separable);
    at::Tensor forward(const at::Tensor& x) const;
};

// `TurboVAEDResnetBlock3d`: conv2(SiLU(norm2(conv1(A(norm1(x)))))) + shortcut, A = ReLU for
// the resnets after an upsampler ("upsampler modified"), SiLU otherwise. norm1/norm2 use eps
// 1e-8; when the width changes the shortcut is conv_shortcut(norm3(x)), norm3 eps =
// resnet_norm_eps, a 1x1x1 conv (depthwise-separable with a 1x1x1 depthwise part in dw blocks).
struct ResnetBlock {
    bool relu_first = false;
    double shortcut_eps = 1e-6;
    bool has_shortcut = false;
    ReplicateConv3d conv1, conv2, conv_shortcut;

    void visit(models::WeightVisitor& v, const std::string& prefix, int in, int out,
               bool depthwise, int dw_kernel_size, bool relu_first, double resnet_norm_eps);
    at::Tensor forward(const at::Tensor& x) const;
};

// `WanResample` in upsample3d (time_conv doubling time, first frame dropped on the first chunk)
// or upsample2d mode, then per frame: nearest x2 and a 3x3 Conv2d at `<p>.resample.1`.
struct Upsampler {
    bool temporal = false;
    ReplicateConv3d time_conv;  // [2C, C, 3, 1, 1], upsample3d only
    at::Tensor weight, bias;    // [C, C, 3, 3], [C]

    void visit(models::WeightVisitor& v, const std::string& prefix, int channels, bool temporal);
    at::Tensor forward(const at::Tensor& x, bool is_first_chunk) const;
};

// A 2-D conv applied to every frame of [B, C, T, H, W] (zero padding k/2): done as a 3-D conv
// with a time kernel of 1, which needs no reshuffling of the frames.
at::Tensor per_frame_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// pixel_shuffle(r) on every frame: channel c*r*r + i*r + j -> pixel (h*r + i, w*r + j).
at::Tensor per_frame_pixel_shuffle(const at::Tensor& x, int64_t r);

// Upstream `unpatchify`: channel c*p*p + j*p + i -> pixel (h*p + i, w*p + j) (the width offset
// is the slower channel index, as in the Wan VAE).
at::Tensor unpatchify(const at::Tensor& x, int64_t p);

}  // namespace canter::turbo_vaed
