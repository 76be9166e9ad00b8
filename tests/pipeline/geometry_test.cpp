// Geometry against the tables of spec/pipeline.md §3.1–§3.3.
#include "pipeline/geometry.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace canter::pipeline {
namespace {

TEST(Geometry, TimeAxisMatchesSpecTable) {
    // s, A, T, F, audio samples @44.1 kHz (pipeline.md §3.2)
    struct Row { int s; int64_t a, t, f, samples; };
    for (const Row& r : {Row{4, 101, 26, 101, 178164}, Row{5, 126, 32, 125, 222264}, Row{10, 251, 63, 249, 442764},
                         Row{15, 376, 94, 373, 663264}}) {
        const auto g = compute_geometry(r.s, Resolution::k256p, Aspect::k16x9);
        EXPECT_EQ(g.audio_latents, r.a) << r.s;
        EXPECT_EQ(g.latent_frames, r.t) << r.s;
        EXPECT_EQ(g.video_frames, r.f) << r.s;
        EXPECT_EQ(g.audio_samples_out, r.samples) << r.s;
        EXPECT_EQ(g.audio_samples_vae, 2048 * r.a) << r.s;
    }
    // Every whole second 1..15: F = 4 (T-1) + 1 and the video is at most 3 frames shorter.
    for (int s = 1; s <= 15; ++s) {
        const auto g = compute_geometry(s, Resolution::k256p, Aspect::k1x1);
        EXPECT_EQ(g.video_frames, 4 * (g.latent_frames - 1) + 1);
        EXPECT_LE(g.audio_latents - g.video_frames, 3);
        EXPECT_GE(g.audio_latents - g.video_frames, 0);
    }
}

TEST(Geometry, RoundingRuleExamples) {
    // pipeline.md §3.1: 272 -> 256, 540 -> 512, 544 -> 544, 720 -> 704, 1080 -> 1056, 1088 -> 1088
    for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{
             {272, 256}, {540, 512}, {544, 544}, {720, 704}, {1080, 1056}, {1088, 1088}}) {
        EXPECT_EQ(stage_geometry(480, in, 1).height, out) << in;  // (width, height)
        EXPECT_EQ(stage_geometry(in, 480, 1).width, out) << in;
    }
}

TEST(Geometry, TokenCountsMatchSpecTable) {
    // pipeline.md §3.3: resolution, latent h x w, tokens/frame, video tokens for 4/5/10/15 s
    struct Row { int64_t w, h, lh, lw, per_frame; int64_t tokens[4]; };
    const int secs[4] = {4, 5, 10, 15};
    for (const Row& r : {Row{448, 256, 16, 28, 112, {2912, 3584, 7056, 10528}},
                         Row{480, 256, 16, 30, 120, {3120, 3840, 7560, 11280}},
                         Row{896, 512, 32, 56, 448, {11648, 14336, 28224, 42112}},
                         Row{960, 544, 34, 60, 510, {13260, 16320, 32130, 47940}},
                         Row{1920, 1088, 68, 120, 2040, {53040, 65280, 128520, 191760}},
                         Row{256, 448, 28, 16, 112, {2912, 3584, 7056, 10528}}}) {
        for (int i = 0; i < 4; ++i) {
            const auto t = compute_geometry(secs[i], Resolution::k256p, Aspect::k16x9).latent_frames;
            const auto g = stage_geometry(r.w, r.h, t);
            EXPECT_EQ(g.latent_h, r.lh);
            EXPECT_EQ(g.latent_w, r.lw);
            EXPECT_EQ(g.tokens_per_frame, r.per_frame);
            EXPECT_EQ(g.video_tokens, r.tokens[i]) << r.w << "x" << r.h << " " << secs[i] << " s";
        }
    }
}

TEST(Geometry, PresetsReproduceUpstreamExampleSizes) {
    auto px = [](Resolution r, Aspect a) {
        const auto p = preset_size(r, a);
        return std::to_string(p.width) + "x" + std::to_string(p.height);
    };
    EXPECT_EQ(px(Resolution::k256p, Aspect::k16x9), "448x256");
    EXPECT_EQ(px(Resolution::k540p, Aspect::k16x9), "896x512");
    EXPECT_EQ(px(Resolution::k1080p, Aspect::k16x9), "1920x1088");
    EXPECT_EQ(px(Resolution::k256p, Aspect::k9x16), "256x448");
    EXPECT_EQ(px(Resolution::k1080p, Aspect::k9x16), "1088x1920");
    EXPECT_EQ(px(Resolution::k256p, Aspect::k1x1), "256x256");
    EXPECT_EQ(px(Resolution::k540p, Aspect::k4x3), "672x512");
    EXPECT_EQ(px(Resolution::k540p, Aspect::k3x4), "512x672");
    // Every preset is already a multiple of 32, so upstream's rounding keeps it.
    for (const auto& rn : resolution_names())
        for (const auto& an : aspect_names()) {
            const auto p = preset_size(parse_resolution(rn), parse_aspect(an));
            EXPECT_EQ(p.width % 32, 0) << rn << " " << an;
            EXPECT_EQ(p.height % 32, 0) << rn << " " << an;
            const auto g = stage_geometry(p.width, p.height, 1);
            EXPECT_EQ(g.width, p.width);
            EXPECT_EQ(g.height, p.height);
        }
}

TEST(Geometry, StagesAndPackedLength) {
    const auto g = compute_geometry(5, Resolution::k1080p, Aspect::k16x9);
    ASSERT_TRUE(g.has_sr);
    EXPECT_EQ(g.base.width, 448);
    EXPECT_EQ(g.sr.width, 1920);
    EXPECT_EQ(g.output().height, 1088);
    // §3.3 example: 5 s at 1920x1088 with a 300-token prompt -> L = 65,280 + 126 + 300
    EXPECT_EQ(g.packed_length(true, 300), 65706);
    const auto base_only = compute_geometry(5, Resolution::k256p, Aspect::k16x9);
    EXPECT_FALSE(base_only.has_sr);
    EXPECT_EQ(base_only.output().width, 448);
}

TEST(Geometry, BadInputNamesTheParameter) {
    EXPECT_NE(testing::error_of([] { compute_geometry(0, Resolution::k256p, Aspect::k16x9); }).find("seconds"),
              std::string::npos);
    EXPECT_NE(testing::error_of([] { compute_geometry(16, Resolution::k256p, Aspect::k16x9); }).find("seconds"),
              std::string::npos);
    EXPECT_NE(testing::error_of([] { parse_aspect("21:9"); }).find("aspect ratio"), std::string::npos);
    EXPECT_NE(testing::error_of([] { parse_resolution("720p"); }).find("resolution"), std::string::npos);
}

}  // namespace
}  // namespace canter::pipeline
