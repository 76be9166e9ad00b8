#include "io/media/image_prep.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "util/check.h"

namespace canter::media {

namespace {

// Python round(): nearest, ties to even. The crop coordinates are multiples of 0.5.
int64_t round_half_even(double v) {
    return static_cast<int64_t>(std::nearbyint(v));  // default FE_TONEAREST = ties to even
}

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return std::sin(x) / x;
}

double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

// Pillow precompute_coeffs + normalize_coeffs_8bpc for in_size -> out_size over the full input.
struct Coeffs {
    int ksize = 0;
    std::vector<int> bounds;  // per output: xmin, count
    std::vector<int32_t> k;   // out_size * ksize, fixed point
};

Coeffs precompute(int64_t in_size, int64_t out_size) {
    const double scale = double(in_size) / double(out_size);
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 3.0 * filterscale;
    Coeffs c;
    c.ksize = int(std::ceil(support)) * 2 + 1;
    c.bounds.resize(size_t(out_size) * 2);
    c.k.assign(size_t(out_size) * c.ksize, 0);
    std::vector<double> w(c.ksize);
    for (int64_t xx = 0; xx < out_size; ++xx) {
        const double center = (double(xx) + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = int(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > in_size) xmax = int(in_size);
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[x] = lanczos3((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            c.k[xx * c.ksize + x] =
                v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits)) : int32_t(0.5 + v * (1 << kPrecisionBits));
        }
        c.bounds[xx * 2] = xmin;
        c.bounds[xx * 2 + 1] = xmax;
    }
    return c;
}

inline uint8_t clip8(int32_t v) {
    const int32_t s = v >> kPrecisionBits;  // arithmetic shift = floor, as in Pillow
    return uint8_t(s < 0 ? 0 : (s > 255 ? 255 : s));
}

// One pass along `axis` (0 = rows/height, 1 = columns/width) of a contiguous uint8 [H, W, C].
at::Tensor resample_axis(const at::Tensor& in, int axis, int64_t out_size) {
    const int64_t h = in.size(0), w = in.size(1), ch = in.size(2);
    const Coeffs c = precompute(axis == 0 ? h : w, out_size);
    at::Tensor out = at::empty({axis == 0 ? out_size : h, axis == 1 ? out_size : w, ch}, in.options());
    const uint8_t* src = in.data_ptr<uint8_t>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    const int64_t ow = out.size(1);
    std::vector<int32_t> acc(static_cast<size_t>(ch));
    if (axis == 1) {
        for (int64_t y = 0; y < h; ++y) {
            const uint8_t* row = src + y * w * ch;
            for (int64_t xx = 0; xx < out_size; ++xx) {
                const int xmin = c.bounds[xx * 2], n = c.bounds[xx * 2 + 1];
                const int32_t* k = &c.k[xx * c.ksize];
                std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
                for (int x = 0; x < n; ++x)
                    for (int64_t j = 0; j < ch; ++j) acc[j] += int32_t(row[(x + xmin) * ch + j]) * k[x];
                for (int64_t j = 0; j < ch; ++j) dst[(y * ow + xx) * ch + j] = clip8(acc[j]);
            }
        }
    } else {
        const int64_t row_len = w * ch;
        std::vector<int32_t> racc(static_cast<size_t>(row_len));
        for (int64_t yy = 0; yy < out_size; ++yy) {
            const int ymin = c.bounds[yy * 2], n = c.bounds[yy * 2 + 1];
            const int32_t* k = &c.k[yy * c.ksize];
            std::fill(racc.begin(), racc.end(), 1 << (kPrecisionBits - 1));
            for (int y = 0; y < n; ++y) {
                const uint8_t* row = src + (y + ymin) * row_len;
                const int32_t ky = k[y];
                for (int64_t i = 0; i < row_len; ++i) racc[i] += int32_t(row[i]) * ky;
            }
            for (int64_t i = 0; i < row_len; ++i) dst[yy * row_len + i] = clip8(racc[i]);
        }
    }
    return out;
}

void check_image(const at::Tensor& img, const char* what) {
    CANTER_CHECK(img.defined() && img.dim() == 3 && img.scalar_type() == at::kByte && img.size(0) > 0 &&
                     img.size(1) > 0 && img.size(2) > 0,
                 InvalidArgument,
                 what << ": expected a uint8 image [H, W, C] with H, W, C > 0, got "
                      << (img.defined() ? img.sizes() : at::IntArrayRef{}) << " "
                      << (img.defined() ? img.scalar_type() : at::kByte));
}

}  // namespace

CropBox resizecrop_box(int64_t src_w, int64_t src_h, int64_t height, int64_t width) {
    CANTER_CHECK(src_w > 0 && src_h > 0 && height > 0 && width > 0, InvalidArgument,
                 "resizecrop: sizes must be positive, got source " << src_w << "x" << src_h << ", target "
                                                                   << width << "x" << height);
    if (src_w == width && src_h == height) return {0, 0, src_w, src_h};
    int64_t new_w = src_w, new_h = src_h;
    if (double(src_h) / double(src_w) > double(height) / double(width)) {
        new_h = int64_t(double(src_w * height) / double(width));  // Python int() truncates
    } else {
        new_w = int64_t(double(src_h * width) / double(height));
    }
    CropBox box;
    box.left = round_half_even(double(src_w - new_w) / 2.0);
    box.top = round_half_even(double(src_h - new_h) / 2.0);
    box.right = round_half_even(double(src_w + new_w) / 2.0);
    box.bottom = round_half_even(double(src_h + new_h) / 2.0);
    CANTER_CHECK(box.width() > 0 && box.height() > 0, InvalidArgument,
                 "resizecrop: a " << src_w << "x" << src_h << " image is too small to crop to the aspect ratio of "
                                  << width << "x" << height);
    return box;
}

at::Tensor resize_lanczos(const at::Tensor& rgb_u8, int64_t height, int64_t width) {
    check_image(rgb_u8, "resize_lanczos");
    CANTER_CHECK(height > 0 && width > 0, InvalidArgument,
                 "resize_lanczos: target size must be positive, got " << width << "x" << height);
    at::Tensor img = rgb_u8.to(at::kCPU).contiguous();
    if (img.size(1) != width) img = resample_axis(img, 1, width);
    if (img.size(0) != height) img = resample_axis(img, 0, height);
    return img.is_same(rgb_u8) ? img.clone() : img;
}

at::Tensor prepare_reference_image(const at::Tensor& rgb_u8, int64_t height, int64_t width) {
    check_image(rgb_u8, "prepare_reference_image");
    CANTER_CHECK(rgb_u8.size(2) == 3, InvalidArgument,
                 "prepare_reference_image: expected 3 channels (RGB), got " << rgb_u8.size(2));
    const CropBox box = resizecrop_box(rgb_u8.size(1), rgb_u8.size(0), height, width);
    const at::Tensor cropped = rgb_u8.slice(0, box.top, box.bottom).slice(1, box.left, box.right);
    const at::Tensor resized = resize_lanczos(cropped, height, width);  // [H, W, 3] u8
    return resized.permute({2, 0, 1}).to(at::kFloat).div(255.0).mul(2.0).sub(1.0).reshape({1, 3, 1, height, width});
}

}  // namespace canter::media
