#include "pipeline/postprocess.h"

#include <ATen/ATen.h>

#include "util/check.h"

namespace canter::pipeline {

at::Tensor resample_fft(const at::Tensor& wave, int64_t n_out) {
    CANTER_CHECK(wave.defined() && wave.dim() >= 1 && at::isFloatingType(wave.scalar_type()), InvalidArgument,
                 "resample_fft: expected a real float tensor [..., N], got "
                     << (wave.defined() ? wave.sizes() : at::IntArrayRef{}));
    const int64_t n = wave.size(-1);
    CANTER_CHECK(n >= 1 && n_out >= 1, InvalidArgument,
                 "resample_fft: lengths must be positive, got " << n << " -> " << n_out);
    if (n_out == n) return wave.clone();

    const at::Tensor spectrum = at::fft_rfft(wave, c10::nullopt, -1);  // [..., n/2 + 1]
    std::vector<int64_t> shape(wave.sizes().begin(), wave.sizes().end());
    shape.back() = n_out / 2 + 1;
    at::Tensor y = at::zeros(shape, spectrum.options());
    const int64_t m = std::min(n, n_out);
    const int64_t keep = m / 2 + 1;
    y.narrow(-1, 0, keep).copy_(spectrum.narrow(-1, 0, keep));
    if (m % 2 == 0) {
        // Nyquist bin of the shorter length: split/joined as in scipy.signal.resample.
        y.narrow(-1, m / 2, 1).mul_(n_out < n ? 2.0 : 0.5);
    }
    at::Tensor out = at::fft_irfft(y, n_out, -1);
    return out.mul_(double(n_out) / double(n));
}

at::Tensor frames_to_uint8(const at::Tensor& video) {
    CANTER_CHECK(video.defined() && video.dim() == 5 && video.size(0) == 1 && video.size(1) == 3, InvalidArgument,
                 "frames_to_uint8: expected video [1, 3, F, H, W], got "
                     << (video.defined() ? video.sizes() : at::IntArrayRef{}));
    const at::Tensor x = video.to(at::kFloat).mul(0.5).add(0.5).clamp(0.0, 1.0);
    return x[0].permute({1, 2, 3, 0}).mul(255.0).to(at::kByte).contiguous();
}

}  // namespace canter::pipeline
