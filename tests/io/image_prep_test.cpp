#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "io/media/image_prep.h"
#include "test_util.h"

namespace canter {
namespace {

using media::CropBox;
using media::prepare_reference_image;
using media::resize_lanczos;
using media::resizecrop_box;

void expect_box(const CropBox& b, int64_t l, int64_t t, int64_t r, int64_t bo) {
    EXPECT_EQ(b.left, l);
    EXPECT_EQ(b.top, t);
    EXPECT_EQ(b.right, r);
    EXPECT_EQ(b.bottom, bo);
}

TEST(ResizeCrop, BoxFollowsUpstreamRounding) {
    expect_box(resizecrop_box(448, 256, 256, 448), 0, 0, 448, 256);   // same size: untouched
    expect_box(resizecrop_box(100, 50, 64, 64), 25, 0, 75, 50);       // wide -> keep height
    // (5-2)/2 = 1.5 -> 2, (5+2)/2 = 3.5 -> 4 (half to even)
    expect_box(resizecrop_box(5, 2, 2, 2), 2, 0, 4, 2);
    // (7-2)/2 = 2.5 -> 2, 4.5 -> 4
    expect_box(resizecrop_box(7, 2, 2, 2), 2, 0, 4, 2);
    // new_w = 3 of 6: 1.5 -> 2, 4.5 -> 4: the box is 1 px narrower than new_w
    expect_box(resizecrop_box(6, 1, 1, 3), 2, 0, 4, 1);
    // tall: new_h = int(50*32/64) = 25 of 100: 37.5 -> 38, 62.5 -> 62
    expect_box(resizecrop_box(50, 100, 32, 64), 0, 38, 50, 62);
    // new_h = int(1000*544/960) = 566 of 1000 -> 217, 783
    expect_box(resizecrop_box(1000, 1000, 544, 960), 0, 217, 1000, 783);
    // same aspect, different size: full image
    expect_box(resizecrop_box(896, 512, 256, 448), 0, 0, 896, 512);
    EXPECT_NE(testing::error_of([] { resizecrop_box(0, 5, 5, 5); }).find("positive"), std::string::npos);
}

double lanczos(double x) {
    auto sinc = [](double v) { return v == 0 ? 1.0 : std::sin(M_PI * v) / (M_PI * v); };
    return std::fabs(x) < 3 ? sinc(x) * sinc(x / 3) : 0.0;
}

// Independent 1-D Lanczos (a = 3) resampling in double over the whole input, support scaled
// by the reduction factor, weights normalised; rounded to uint8.
std::vector<int> reference_1d(const std::vector<int>& in, int64_t out_size) {
    const double scale = double(in.size()) / double(out_size);
    const double fs = std::max(1.0, scale);
    std::vector<int> out;
    for (int64_t x = 0; x < out_size; ++x) {
        const double center = (x + 0.5) * scale;
        double sum = 0, wsum = 0;
        for (size_t j = 0; j < in.size(); ++j) {
            const double w = lanczos((double(j) + 0.5 - center) / fs);
            sum += w * in[j];
            wsum += w;
        }
        out.push_back(int(std::min(255.0, std::max(0.0, std::floor(sum / wsum + 0.5)))));
    }
    return out;
}

at::Tensor row_image(const std::vector<int>& v) {
    at::Tensor t = at::empty({1, int64_t(v.size()), 1}, at::kByte);
    for (size_t i = 0; i < v.size(); ++i) t[0][int64_t(i)][0] = v[i];
    return t;
}

TEST(ResizeLanczos, MatchesIndependentOneDimensionalReference) {
    at::manual_seed(7);
    for (const auto& [n, m] : std::vector<std::pair<int, int>>{{20, 7}, {16, 8}, {9, 23}, {40, 13}, {5, 5}, {33, 32}}) {
        const at::Tensor src = at::randint(0, 256, {n}, at::kLong);
        std::vector<int> in(n);
        for (int i = 0; i < n; ++i) in[i] = src[i].item<int>();
        const std::vector<int> ref = reference_1d(in, m);
        const at::Tensor got_w = resize_lanczos(row_image(in), 1, m);                     // width pass
        const at::Tensor got_h = resize_lanczos(row_image(in).transpose(0, 1), m, 1);     // height pass
        ASSERT_EQ(got_w.sizes(), (at::IntArrayRef{1, m, 1}));
        ASSERT_EQ(got_h.sizes(), (at::IntArrayRef{m, 1, 1}));
        for (int x = 0; x < m; ++x) {
            EXPECT_NEAR(got_w[0][x][0].item<int>(), ref[x], 1) << n << "->" << m << " x=" << x;
            EXPECT_EQ(got_h[x][0][0].item<int>(), got_w[0][x][0].item<int>()) << "passes agree";
        }
    }
}

TEST(ResizeLanczos, KnownSmallCase) {
    // 4 -> 2 (scale 2, support 6): every output sees all 4 inputs. Output 0 has centre 1.0;
    // weights lanczos((j + 0.5 - 1) / 2) for j = 0..3, i.e. at -0.25, 0.25, 0.75, 1.25.
    const std::vector<int> in = {0, 100, 200, 50};
    double w[4], s = 0, v = 0;
    for (int j = 0; j < 4; ++j) {
        w[j] = lanczos((j + 0.5 - 1.0) / 2.0);
        s += w[j];
        v += w[j] * in[j];
    }
    const int expected0 = int(std::floor(v / s + 0.5));
    const at::Tensor got = resize_lanczos(row_image(in), 1, 2);
    EXPECT_NEAR(got[0][0][0].item<int>(), expected0, 1);
    // Weights 0.8901, 0.8901, 0.2702, -0.1329 -> 71.14 (evaluated separately in Python).
    EXPECT_EQ(expected0, 71);
}

TEST(ResizeLanczos, IdentityConstantAndTwoDimensional) {
    at::manual_seed(1);
    const at::Tensor img = at::randint(0, 256, {13, 17, 3}, at::kByte);
    EXPECT_TRUE(at::equal(resize_lanczos(img, 13, 17), img));
    const at::Tensor flat = at::full({31, 45, 3}, 173, at::kByte);
    for (const auto& [h, w] : std::vector<std::pair<int, int>>{{16, 16}, {64, 90}, {7, 45}, {31, 11}})
        EXPECT_TRUE(at::equal(resize_lanczos(flat, h, w), at::full({h, w, 3}, 173, at::kByte))) << h << "x" << w;

    // Two passes: horizontal then vertical with uint8 rounding in between, per channel.
    const at::Tensor src = at::randint(0, 256, {12, 10, 3}, at::kByte);
    const at::Tensor got = resize_lanczos(src, 5, 7);
    for (int c = 0; c < 3; ++c) {
        std::vector<std::vector<int>> rows;
        for (int y = 0; y < 12; ++y) {
            std::vector<int> r(10);
            for (int x = 0; x < 10; ++x) r[x] = src[y][x][c].item<int>();
            rows.push_back(reference_1d(r, 7));
        }
        for (int x = 0; x < 7; ++x) {
            std::vector<int> col(12);
            for (int y = 0; y < 12; ++y) col[y] = rows[y][x];
            const std::vector<int> out = reference_1d(col, 5);
            for (int y = 0; y < 5; ++y) EXPECT_NEAR(got[y][x][c].item<int>(), out[y], 2) << y << "," << x << "," << c;
        }
    }
}

TEST(PrepareReferenceImage, CropResizeAndScale) {
    // 40x20 image: left quarter black, middle half white, right quarter black. A square target
    // keeps the centre 20x20 crop, which is all white.
    at::Tensor img = at::zeros({20, 40, 3}, at::kByte);
    img.slice(1, 10, 30).fill_(255);
    const at::Tensor out = prepare_reference_image(img, 8, 8);
    ASSERT_EQ(out.sizes(), (at::IntArrayRef{1, 3, 1, 8, 8}));
    EXPECT_EQ(out.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::allclose(out, at::ones_like(out)));
    // Values: 2 * v / 255 - 1.
    const at::Tensor grey = at::full({4, 4, 3}, 51, at::kByte);
    const at::Tensor g = prepare_reference_image(grey, 4, 4);
    EXPECT_NEAR(g.min().item<double>(), 2.0 * 51 / 255 - 1, 1e-6);
    EXPECT_NEAR(g.max().item<double>(), 2.0 * 51 / 255 - 1, 1e-6);
    // Channel order: R plane first.
    at::Tensor rgb = at::zeros({2, 2, 3}, at::kByte);
    rgb.select(2, 0).fill_(255);
    const at::Tensor p = prepare_reference_image(rgb, 2, 2);
    EXPECT_EQ(p[0][0].min().item<float>(), 1.0f);
    EXPECT_EQ(p[0][1].max().item<float>(), -1.0f);
    EXPECT_NE(testing::error_of([] { prepare_reference_image(at::zeros({4, 4}, at::kByte), 4, 4); }).find("uint8"),
              std::string::npos);
}

}  // namespace
}  // namespace canter
