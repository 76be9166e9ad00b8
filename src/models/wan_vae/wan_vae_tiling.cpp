#include "models/wan_vae/wan_vae_tiling.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "models/wan_vae/wan_vae.h"
#include "util/check.h"

namespace canter::wan_vae {

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap) {
    CANTER_CHECK(tile > 0 && overlap >= 0 && overlap < tile, InvalidArgument,
                 "Wan VAE tiling: need 0 <= tile_overlap (" << overlap << ") < tile_latent_size ("
                                                            << tile << ")");
    std::vector<int64_t> starts = {0};
    while (starts.back() + tile < size)
        starts.push_back(std::min(starts.back() + tile - overlap, size - tile));
    return starts;
}

at::Tensor blend_weights(int64_t len, int64_t before, int64_t after) {
    // d = distance of the pixel centre from the cut edge; the weight ramps over the middle
    // quarter of the overlap, [3o/8, 5o/8], so the neighbour's ramp is its mirror image.
    const at::Tensor d = at::arange(len, at::kFloat) + 0.5;
    at::Tensor w = at::ones({len}, at::kFloat);
    if (before > 0) w.mul_(((d - before * 0.375) / (before * 0.25)).clamp_(0.0, 1.0));
    if (after > 0) w.mul_(((double(len) - d - after * 0.375) / (after * 0.25)).clamp_(0.0, 1.0));
    return w;
}

at::Tensor decode_upsample_tiled(const WanVae& model, const at::Tensor& mid) {
    const int64_t tile = model.options().tile_latent_size;
    const int64_t overlap = model.options().tile_overlap;
    const int64_t s = model.config().spatial_stride();
    const int64_t h = mid.size(3), w = mid.size(4);
    const auto hs = tile_starts(h, tile, overlap);
    const auto ws = tile_starts(w, tile, overlap);
    const int64_t th = std::min(tile, h), tw = std::min(tile, w);

    // Pixel overlap of tile i with its neighbours along one axis.
    auto overlaps = [&](const std::vector<int64_t>& st, size_t i, int64_t len) {
        const int64_t before = i > 0 ? (st[i - 1] + len - st[i]) * s : 0;
        const int64_t after = i + 1 < st.size() ? (st[i] + len - st[i + 1]) * s : 0;
        return std::make_pair(before, after);
    };

    at::Tensor out, wsum;
    for (size_t i = 0; i < hs.size(); ++i) {
        const auto [hb, ha] = overlaps(hs, i, th);
        const at::Tensor wh = blend_weights(th * s, hb, ha).to(mid.device());
        for (size_t j = 0; j < ws.size(); ++j) {
            const auto [wb, wa] = overlaps(ws, j, tw);
            const at::Tensor ww = blend_weights(tw * s, wb, wa).to(mid.device());
            const at::Tensor piece =
                model.decode_upsample(mid.narrow(3, hs[i], th).narrow(4, ws[j], tw));
            if (!out.defined()) {
                auto shape = piece.sizes().vec();
                shape[3] = h * s;
                shape[4] = w * s;
                out = at::zeros(shape, piece.options());
                wsum = at::zeros({h * s, w * s}, piece.options());
            }
            const at::Tensor mask = wh.unsqueeze(1) * ww.unsqueeze(0);
            out.narrow(3, hs[i] * s, th * s).narrow(4, ws[j] * s, tw * s).add_(piece * mask);
            wsum.narrow(0, hs[i] * s, th * s).narrow(1, ws[j] * s, tw * s).add_(mask);
        }
    }
    return out.div_(wsum);
}

}  // namespace canter::wan_vae
