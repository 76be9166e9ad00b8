#include "models/turbo_vaed/turbo_vaed_tiling.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "models/turbo_vaed/turbo_vaed_config.h"
#include "util/check.h"

namespace canter::turbo_vaed {

namespace {

// Per-axis blend weight of a core's output pixels: a linear ramp over the overlap on each side
// that has a neighbouring tile, 1 elsewhere. Always > 0, so every pixel has weight.
at::Tensor ramp(int64_t length, int64_t ramp_len, bool left, bool right) {
    at::Tensor w = at::ones({length}, at::kFloat);
    if (ramp_len <= 0) return w;
    const at::Tensor i = at::arange(length, at::kFloat).add_(0.5);
    if (left) w = at::minimum(w, i / double(ramp_len));
    if (right) w = at::minimum(w, (double(length) - i) / double(ramp_len));
    return w;
}

}  // namespace

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap) {
    if (size <= tile) return {0};
    std::vector<int64_t> starts;
    const int64_t stride = tile - overlap;
    for (int64_t s = 0;; s += stride) {
        if (s + tile >= size) {
            starts.push_back(size - tile);
            break;
        }
        starts.push_back(s);
    }
    return starts;
}

int64_t receptive_radius(const TurboVaedConfig& c) {
    // Radii of the 3x3 (or dw_kernel) convs, in the pixels of the resolution they run at.
    double r = 1.0;  // conv_in
    double scale = 1.0;
    auto resnet = [&](bool dw) {
        const double k = dw ? c.dw_kernel_size / 2 : 1;
        r += 2 * k / scale;  // conv1 + conv2; the shortcut is 1x1
    };
    for (int i = 0; i < c.mid_layers(); ++i) resnet(c.mid_depthwise());
    for (const auto& b : c.up_blocks()) {
        if (b.in_channels != b.out_channels) resnet(b.depthwise);
        if (b.upsample) {
            scale *= 2;
            r += 1.0 / scale;  // resample.1 3x3 after the nearest x2
        }
        for (int i = 0; i < b.num_layers; ++i) resnet(b.depthwise);
    }
    if (!c.use_unpatchify) {
        r += 2.0 / scale;  // head conv (3x3) and then, after pixel shuffle, conv_out
        scale *= 2;
        r += 1.0 / scale;
    } else {
        r += 1.0 / scale;  // conv_out
    }
    return static_cast<int64_t>(std::ceil(r - 1e-9));
}

at::Tensor decode_tiled(const at::Tensor& z, const TileSpec& spec,
                        const std::function<at::Tensor(const at::Tensor&)>& decode) {
    CANTER_CHECK(spec.tile > 0 && spec.overlap >= 0 && spec.overlap < spec.tile && spec.halo >= 0,
                 InvalidArgument,
                 "TurboVAED tiling: need tile_latent_size > tile_overlap >= 0 and tile_halo >= 0, "
                 "got tile " << spec.tile << ", overlap " << spec.overlap << ", halo " << spec.halo);
    const int64_t h = z.size(3), w = z.size(4), s = spec.scale;
    const auto ys = tile_starts(h, spec.tile, spec.overlap);
    const auto xs = tile_starts(w, spec.tile, spec.overlap);
    const int64_t th = std::min(spec.tile, h), tw = std::min(spec.tile, w);
    at::Tensor acc, weight;
    for (size_t a = 0; a < ys.size(); ++a) {
        // Decoded region: the core plus the halo, clipped to the latent.
        const int64_t y0 = std::max<int64_t>(0, ys[a] - spec.halo);
        const int64_t y1 = std::min(h, ys[a] + th + spec.halo);
        for (size_t b = 0; b < xs.size(); ++b) {
            const int64_t x0 = std::max<int64_t>(0, xs[b] - spec.halo);
            const int64_t x1 = std::min(w, xs[b] + tw + spec.halo);
            at::Tensor out = decode(z.narrow(3, y0, y1 - y0).narrow(4, x0, x1 - x0));
            out = out.narrow(3, (ys[a] - y0) * s, th * s).narrow(4, (xs[b] - x0) * s, tw * s);
            if (!acc.defined()) {
                acc = at::zeros({out.size(0), out.size(1), out.size(2), h * s, w * s}, out.options());
                weight = at::zeros({h * s, w * s}, out.options());
            }
            const at::Tensor wy = ramp(th * s, spec.overlap * s, a > 0, a + 1 < ys.size());
            const at::Tensor wx = ramp(tw * s, spec.overlap * s, b > 0, b + 1 < xs.size());
            const at::Tensor wt = wy.unsqueeze(1).mul(wx.unsqueeze(0)).to(out.device());
            acc.narrow(3, ys[a] * s, th * s).narrow(4, xs[b] * s, tw * s).add_(out * wt);
            weight.narrow(0, ys[a] * s, th * s).narrow(1, xs[b] * s, tw * s).add_(wt);
        }
    }
    return acc.div_(weight);
}

}  // namespace canter::turbo_vaed
