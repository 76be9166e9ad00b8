#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "pipeline/postprocess.h"
#include "test_util.h"

namespace canter {
namespace {

using pipeline::frames_to_uint8;
using pipeline::resample_fft;

// scipy.signal.resample for one real row, written out with direct O(n^2) DFTs in double.
std::vector<double> reference_resample(const std::vector<double>& x, int64_t num) {
    const int64_t n = int64_t(x.size());
    std::vector<std::complex<double>> X(size_t(n / 2 + 1));
    for (int64_t k = 0; k <= n / 2; ++k)
        for (int64_t j = 0; j < n; ++j) X[k] += x[j] * std::polar(1.0, -2 * M_PI * double(k * j) / double(n));
    std::vector<std::complex<double>> Y(size_t(num / 2 + 1));
    const int64_t m = std::min(n, num);
    for (int64_t k = 0; k <= m / 2; ++k) Y[k] = X[k];
    if (m % 2 == 0) Y[m / 2] *= (num < n ? 2.0 : 0.5);
    // Inverse real DFT of length num (Hermitian extension; DC and Nyquist use their real part).
    std::vector<double> y(static_cast<size_t>(num));
    for (int64_t t = 0; t < num; ++t) {
        double s = Y[0].real();
        for (int64_t k = 1; k <= (num - 1) / 2; ++k)
            s += 2 * (Y[k] * std::polar(1.0, 2 * M_PI * double(k * t) / double(num))).real();
        if (num % 2 == 0) s += Y[num / 2].real() * std::cos(M_PI * double(t));
        y[t] = s / double(num) * double(num) / double(n);
    }
    return y;
}

TEST(ResampleFft, MatchesDirectDftForSmallSizes) {
    at::manual_seed(3);
    const std::vector<std::pair<int64_t, int64_t>> cases = {
        {8, 6}, {8, 4}, {9, 5}, {10, 7}, {6, 10}, {7, 12}, {5, 9}, {16, 11}, {4096, 3528}};
    for (const auto& [n, num] : cases) {
        const at::Tensor wave = at::randn({2, n}, at::kDouble);
        const at::Tensor got = resample_fft(wave, num);
        ASSERT_EQ(got.sizes(), (at::IntArrayRef{2, num}));
        for (int c = 0; c < 2; ++c) {
            if (n > 64 && c == 1) break;  // the O(n^2) reference is slow; one row is enough there
            std::vector<double> row(static_cast<size_t>(n));
            for (int64_t j = 0; j < n; ++j) row[j] = wave[c][j].item<double>();
            const std::vector<double> ref = reference_resample(row, num);
            const at::Tensor expected = at::tensor(ref, at::kDouble);
            EXPECT_TRUE(testing::near(got[c], expected, 1e-9, "resample " + std::to_string(n) + "->" + std::to_string(num)));
        }
    }
}

TEST(ResampleFft, Float32StaysFloat32AndNyquistRuleMatters) {
    // A signal at exactly the Nyquist frequency of the output length: 8 -> 4 samples.
    // X[2] of the length-8 cosine at bin 2 is 4; doubled to 8, irfft(len 4) of [0,0,8] is
    // 8/4 * (-1)^t = +-2, times 4/8 -> +-1: the tone survives at full amplitude.
    at::Tensor wave = at::empty({1, 8}, at::kFloat);
    for (int j = 0; j < 8; ++j) wave[0][j] = std::cos(2 * M_PI * 2 * j / 8.0);
    const at::Tensor got = resample_fft(wave, 4);
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    const at::Tensor expected = at::tensor({1.0f, -1.0f, 1.0f, -1.0f}).reshape({1, 4});
    EXPECT_TRUE(testing::near(got, expected, 1e-5, "nyquist"));
}

TEST(ResampleFft, IdentityAndErrors) {
    const at::Tensor wave = at::randn({2, 33});
    const at::Tensor same = resample_fft(wave, 33);
    EXPECT_TRUE(at::equal(same, wave));
    EXPECT_FALSE(same.is_same(wave));
    EXPECT_NE(testing::error_of([&] { resample_fft(wave, 0); }).find("positive"), std::string::npos);
    EXPECT_NE(testing::error_of([&] { resample_fft(at::ones({3}, at::kLong), 2); }).find("float"), std::string::npos);
}

TEST(FramesToUint8, ClampScaleTruncateAndLayout) {
    // [1, 3, F=2, H=1, W=3]
    at::Tensor video = at::zeros({1, 3, 2, 1, 3});
    const std::vector<float> values = {-1.0f, 0.0f, 1.0f, 2.0f, -3.0f, 0.999f};
    for (int f = 0; f < 2; ++f)
        for (int x = 0; x < 3; ++x) video[0][0][f][0][x] = values[f * 3 + x];
    video[0][1].fill_(0.5f);   // G: (0.75 * 255 = 191.25) -> 191
    video[0][2].fill_(-0.5f);  // B: (0.25 * 255 = 63.75) -> 63
    const at::Tensor out = frames_to_uint8(video);
    ASSERT_EQ(out.sizes(), (at::IntArrayRef{2, 1, 3, 3}));
    EXPECT_EQ(out.scalar_type(), at::kByte);
    EXPECT_TRUE(out.is_contiguous());
    const std::vector<int> expected_r = {0, 127, 255, 255, 0, 254};  // floor, not round
    for (int f = 0; f < 2; ++f)
        for (int x = 0; x < 3; ++x) {
            EXPECT_EQ(out[f][0][x][0].item<int>(), expected_r[f * 3 + x]) << "f=" << f << " x=" << x;
            EXPECT_EQ(out[f][0][x][1].item<int>(), 191);
            EXPECT_EQ(out[f][0][x][2].item<int>(), 63);
        }
    EXPECT_NE(testing::error_of([] { frames_to_uint8(at::zeros({3, 2, 4, 4})); }).find("[1, 3, F, H, W]"),
              std::string::npos);
}

}  // namespace
}  // namespace canter
