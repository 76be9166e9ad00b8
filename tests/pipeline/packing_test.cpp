#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "pipeline/packing.h"
#include "test_util.h"

namespace canter {
namespace {

TEST(Packing, VideoChannelOrdersDifferBetweenPackAndUnpack) {
    // One token: latent [1, 2, 1, 2, 2] with value = 1000*c + 10*ph + pw.
    at::Tensor v = at::zeros({1, 2, 1, 2, 2});
    for (int c = 0; c < 2; ++c)
        for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 2; ++w) v[0][c][0][h][w] = 1000 * c + 10 * h + w;
    const auto p = pipeline::pack(v, at::zeros({1, 1, 4}), at::zeros({1, 1, 3}), 1, {});
    // Packing (UnfoldNd): channel = c*4 + ph*2 + pw.
    EXPECT_TRUE(at::equal(p.seq.video[0], at::tensor(std::vector<float>{0.f, 1.f, 10.f, 11.f, 1000.f, 1001.f, 1010.f, 1011.f})));
    // Unpacking: channel = (ph*2 + pw)*C + c.
    at::Tensor rows = at::tensor({0.f, 1000.f, 1.f, 1001.f, 10.f, 1010.f, 11.f, 1011.f}).view({1, 8});
    EXPECT_TRUE(at::equal(pipeline::unpack_video(rows, p.geometry, {}), v));
}

TEST(Packing, CoordsV1V2AndLocalRanges) {
    at::Tensor video = at::zeros({1, 48, 4, 4, 2});  // tokens 4 x 2 x 1
    at::Tensor audio = at::zeros({1, 13, 64});
    at::Tensor text = at::zeros({1, 8, 16});
    pipeline::DataProxyConfig v2;
    v2.frame_receptive_field = 1;
    const auto p2 = pipeline::pack(video, audio, text, 5, v2);
    ASSERT_EQ(p2.seq.length(), 8 + 13 + 5);
    auto row = [](const at::Tensor& c, int64_t r) { return c[r]; };
    EXPECT_TRUE(at::equal(row(p2.seq.coords, 3), at::tensor(std::vector<float>{1.f, 1.f, 0.f, 4.f, 2.f, 1.f, 4.f, 2.f, 1.f})));  // t=1, h=1
    EXPECT_TRUE(at::equal(row(p2.seq.coords, 8 + 2), at::tensor(std::vector<float>{2.f, 0.f, 0.f, 13.f, 1.f, 1.f, 4.f, 1.f, 1.f})));  // audio, ref (13-1)/4+1
    EXPECT_TRUE(at::equal(row(p2.seq.coords, 21), at::tensor(std::vector<float>{-5.f, 0.f, 0.f, 5.f, 1.f, 1.f, 1.f, 1.f, 1.f})));   // first text token
    // Frame i sees frames i-1..i+1; then the video->audio/text range and the audio/text rows.
    EXPECT_TRUE(at::equal(p2.local_q_ranges, at::tensor({0, 2, 2, 4, 4, 6, 6, 8, 0, 8, 8, 26}, at::kInt).view({6, 2})));
    EXPECT_TRUE(at::equal(p2.local_k_ranges, at::tensor({0, 4, 0, 6, 2, 8, 4, 8, 8, 26, 0, 26}, at::kInt).view({6, 2})));

    const auto p1 = pipeline::pack(video, audio, text, 5, pipeline::DataProxyConfig::sr_default());
    EXPECT_TRUE(at::equal(row(p1.seq.coords, 8 + 2), at::tensor(std::vector<float>{2.f, 0.f, 0.f, 13.f, 1.f, 1.f, 4.f, 1.f, 1.f})));  // ref = latent T
    EXPECT_TRUE(at::equal(row(p1.seq.coords, 21), at::tensor(std::vector<float>{0.f, 0.f, 0.f, 5.f, 1.f, 1.f, 2.f, 1.f, 1.f})));
    EXPECT_TRUE(at::equal(p1.modality, at::cat({at::zeros({8}, at::kLong), at::ones({13}, at::kLong),
                                                at::full({5}, 2, at::kLong)})));
}

TEST(Packing, PackUnpackRoundTrip) {
    at::Tensor video = at::randn({1, 48, 3, 6, 8});
    const auto p = pipeline::pack(video, at::randn({1, 9, 64}), at::randn({1, 4, 8}), 4, {});
    // Re-order packed channels (c, ph, pw) into the output order (ph, pw, c) and unpack.
    at::Tensor rows = p.seq.video.view({-1, 48, 2, 2}).permute({0, 2, 3, 1}).reshape({-1, 192});
    EXPECT_TRUE(at::equal(pipeline::unpack_video(rows, p.geometry, {}), video));
}

TEST(Packing, BadInputNamesTheProblem) {
    const auto& msg = testing::error_of;
    EXPECT_NE(msg([] { pipeline::pack(at::zeros({1, 48, 2, 5, 4}), at::zeros({1, 5, 64}), at::zeros({1, 2, 8}), 2, {}); })
                  .find("not divisible"), std::string::npos);
    EXPECT_NE(msg([] { pipeline::pack(at::zeros({48, 2, 4, 4}), at::zeros({1, 5, 64}), at::zeros({1, 2, 8}), 2, {}); })
                  .find("[1, C, T, H, W]"), std::string::npos);
    EXPECT_NE(msg([] { pipeline::pack(at::zeros({1, 48, 2, 4, 4}), at::zeros({1, 5, 64}), at::zeros({1, 2, 8}), 3, {}); })
                  .find("text length 3"), std::string::npos);
    EXPECT_NE(msg([] { pipeline::DataProxyConfig::from_json({{"coords_style", "v3"}}); }).find("coords_style"),
              std::string::npos);
    EXPECT_NE(msg([] { pipeline::DataProxyConfig::from_json({{"coords_style", 2}}); }).find("coords_style"),
              std::string::npos);
}

}  // namespace
}  // namespace canter
