// Wan2.2 VAE: the golden case (encode, decode with and without clamp, roundtrip, constants),
// streaming against the whole-sequence form, causality, the parameter-free ops on hand-made
// tensors, key completeness for the golden and the real config, bad inputs, the CLI runner and
// spatial tiling of the decoder.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/common/weights.h"
#include "models/wan_vae/wan_vae.h"
#include "models/wan_vae/wan_vae_ops.h"
#include "models/wan_vae/wan_vae_tiling.h"
#include "test_util.h"
#include "util/check.h"

namespace canter {
namespace {

using testing::error_of;

using testing::golden;
using testing::near;
using wan_vae::WanVae;
using wan_vae::WanVaeConfig;
using wan_vae::WanVaeOptions;

constexpr double kTol = 1e-4;  // golden/README.md: VAEs fp32, max abs relative to output scale


// Tolerance scaled by the reference's magnitude (never below the absolute 1e-4).
double tol_for(const at::Tensor& expected, double rel = kTol) {
    return rel * std::max(1.0, expected.abs().max().item<double>());
}

const WanVae& golden_model() {
    static const WanVae m = WanVae::load_dir(golden("vae/wan22"));
    return m;
}

const conform::CaseFile& golden_case() {
    static const conform::CaseFile c(golden("vae/wan22/case.safetensors"));
    return c;
}

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn(shape, gen);
}

// --- golden case -------------------------------------------------------------------------------

TEST(WanVaeGolden, Encode) {
    const auto& c = golden_case();
    const at::Tensor expected = c.input("encode.output_latent");
    const at::Tensor got = golden_model().encode(c.input("encode.input_video"));
    EXPECT_TRUE(near(got, expected, tol_for(expected), "encode.output_latent"));
}

TEST(WanVaeGolden, DecodeUnclampedAndClamped) {
    const auto& c = golden_case();
    const at::Tensor z = c.input("decode.input_latent");
    const at::Tensor raw = c.input("decode.output_video_unclamped");
    const at::Tensor got_raw = golden_model().decode_unclamped(z);
    EXPECT_TRUE(near(got_raw, raw, tol_for(raw), "decode.output_video_unclamped"));
    const at::Tensor clamped = c.input("decode.output_video");
    EXPECT_TRUE(near(golden_model().decode(z), clamped, tol_for(clamped), "decode.output_video"));
}

TEST(WanVaeGolden, Roundtrip) {
    const auto& c = golden_case();
    const at::Tensor expected = c.input("roundtrip.decode_of_encode_output");
    const auto& m = golden_model();
    const at::Tensor got = m.decode(m.encode(c.input("encode.input_video")));
    EXPECT_TRUE(near(got, expected, tol_for(expected), "roundtrip.decode_of_encode_output"));
}

TEST(WanVaeGolden, NormalisationConstants) {
    const auto& c = golden_case();
    EXPECT_TRUE(near(golden_model().mean(), c.input("scale.mean"), 0, "scale.mean"));
    EXPECT_TRUE(near(golden_model().inv_std(), c.input("scale.inv_std"), 0, "scale.inv_std"));
    EXPECT_FLOAT_EQ(models::wan_latent_mean()[19].item<float>(), 0.5109f);
    EXPECT_FLOAT_EQ(models::wan_latent_std()[39].item<float>(), 1.6887f);
    // MagiHuman's bf16 wrapper: std 0.4765 -> 0.4765625, inv_std 2.09375 (spec §1.6).
    EXPECT_EQ(models::wan_latent_inv_std(true)[0].item<float>(), 2.09375f);
}

TEST(WanVaeGolden, ConfigReadFromFolder) {
    const auto& cfg = golden_model().config();
    EXPECT_EQ(cfg.dim, 8);
    EXPECT_EQ(cfg.dec_dim, 8);
    EXPECT_EQ(cfg.z_dim, 48);
    EXPECT_EQ(cfg.temperal_downsample, std::vector<bool>({false, true, true}));
    EXPECT_EQ(cfg.temporal_stride(), 4);
    EXPECT_EQ(cfg.spatial_stride(), 16);
}

// --- streaming vs whole sequence, causality ----------------------------------------------------

TEST(WanVaeStreaming, MatchesWholeSequenceOnGolden) {
    auto whole = WanVae::load_dir(golden("vae/wan22"));
    whole.mutable_options().whole_sequence = true;
    const auto& c = golden_case();
    const at::Tensor video = c.input("encode.input_video");
    EXPECT_TRUE(near(whole.encode(video), golden_model().encode(video), 1e-5, "encode whole"));
    const at::Tensor z = c.input("decode.input_latent");
    EXPECT_TRUE(near(whole.decode_unclamped(z), golden_model().decode_unclamped(z), 1e-5,
                     "decode whole"));
}

TEST(WanVaeStreaming, MatchesWholeSequenceOnRandomWeights) {
    WanVaeConfig cfg;
    cfg.dim = 4;
    cfg.dec_dim = 4;
    WanVaeOptions opt;
    auto stream = WanVae::random(cfg, opt, 5);
    opt.whole_sequence = true;
    const auto whole = WanVae::random(cfg, opt, 5);
    // 13 frames: three encoder chunks after the first; 48 x 32 is not square.
    const at::Tensor video = randn({1, 3, 13, 48, 32}, 1).tanh();
    const at::Tensor za = stream.encode(video), zb = whole.encode(video);
    EXPECT_EQ(za.sizes(), (std::vector<int64_t>{1, 48, 4, 3, 2}));
    EXPECT_TRUE(near(za, zb, 1e-5, "random encode"));
    const at::Tensor z = randn({2, 48, 4, 2, 3}, 2);  // batch 2
    const at::Tensor va = stream.decode_unclamped(z), vb = whole.decode_unclamped(z);
    EXPECT_EQ(va.sizes(), (std::vector<int64_t>{2, 3, 13, 32, 48}));
    EXPECT_TRUE(near(va, vb, 1e-5, "random decode"));
}

TEST(WanVaeStreaming, Causality) {
    const auto& m = golden_model();
    const at::Tensor video = golden_case().input("encode.input_video");
    at::Tensor changed = video.clone();
    changed.narrow(2, 1, 8).mul_(-0.5);
    const at::Tensor a = m.encode(video), b = m.encode(changed);
    EXPECT_TRUE(at::equal(a.narrow(2, 0, 1), b.narrow(2, 0, 1)));
    EXPECT_FALSE(at::allclose(a.narrow(2, 1, 2), b.narrow(2, 1, 2)));

    const at::Tensor z = golden_case().input("decode.input_latent");
    at::Tensor z2 = z.clone();
    z2.narrow(2, 2, 1).add_(1.0);
    const at::Tensor va = m.decode_unclamped(z), vb = m.decode_unclamped(z2);
    EXPECT_TRUE(at::equal(va.narrow(2, 0, 5), vb.narrow(2, 0, 5)));
    EXPECT_FALSE(at::allclose(va.narrow(2, 5, 4), vb.narrow(2, 5, 4)));
}

TEST(WanVaeStreaming, SingleImageAndTrailingFrames) {
    const auto& m = golden_model();
    const at::Tensor video = golden_case().input("encode.input_video");
    // T = 1 encodes to one latent frame equal to frame 0 of the clip's latent (causality).
    const at::Tensor one = m.encode(video.narrow(2, 0, 1));
    EXPECT_EQ(one.sizes(), (std::vector<int64_t>{1, 48, 1, 4, 4}));
    EXPECT_TRUE(near(one, m.encode(video).narrow(2, 0, 1), 1e-6, "T=1"));
    // 8 frames: upstream ignores the 3 trailing frames after the first chunk.
    EXPECT_TRUE(near(m.encode(video.narrow(2, 0, 8)), m.encode(video.narrow(2, 0, 5)), 0,
                     "trailing frames"));
    // One latent frame decodes to one video frame.
    const at::Tensor v = m.decode(golden_case().input("decode.input_latent").narrow(2, 0, 1));
    EXPECT_EQ(v.sizes(), (std::vector<int64_t>{1, 3, 1, 64, 64}));
}

// --- parameter-free ops ------------------------------------------------------------------------

TEST(WanVaeOps, PatchifyChannelOrder) {
    // [1, 1, 1, 2, 2]: pixel (h=q, w=r) goes to channel 2r + q (W offset more significant).
    const at::Tensor x = at::tensor({10.f, 11.f, 20.f, 21.f}).view({1, 1, 1, 2, 2});
    const at::Tensor p = wan_vae::patchify(x).flatten();
    // (q,r) = (0,0) -> 0: 10; (1,0) -> 1: 20; (0,1) -> 2: 11; (1,1) -> 3: 21.
    EXPECT_TRUE(at::equal(p, at::tensor({10.f, 20.f, 11.f, 21.f})));
    const at::Tensor y = randn({2, 3, 2, 6, 4}, 3);
    EXPECT_TRUE(at::equal(wan_vae::unpatchify(wan_vae::patchify(y)), y));
    EXPECT_EQ(wan_vae::patchify(y).size(1), 12);
}

TEST(WanVaeOps, AvgDown3D) {
    // 2 channels, T = 1 (padded to 2 at the front), 2x2 -> 1x1, out 2: group of 4 each.
    const at::Tensor x = at::arange(8, at::kFloat).view({1, 2, 1, 2, 2});
    const at::Tensor y = wan_vae::avg_down3d(x, 2, 2, 2);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 2, 1, 1, 1}));
    // Gathered channel c*8 + it*4 + ih*2 + iw; with out = 2 each group of 8 is one input
    // channel: its zero-padded frame (it = 0) and its four pixels (it = 1).
    EXPECT_FLOAT_EQ(y[0][0][0][0][0].item<float>(), (0 + 1 + 2 + 3) / 8.f);
    EXPECT_FLOAT_EQ(y[0][1][0][0][0].item<float>(), (4 + 5 + 6 + 7) / 8.f);
    // Identity when all factors are 1 and in == out.
    const at::Tensor r = randn({1, 3, 2, 2, 2}, 4);
    EXPECT_TRUE(at::equal(wan_vae::avg_down3d(r, 3, 1, 1), r));
    // out = 8 with factors (2,2,2): every gathered channel is its own group.
    const at::Tensor cube = at::arange(8, at::kFloat).view({1, 1, 2, 2, 2});
    const at::Tensor g = wan_vae::avg_down3d(cube, 8, 2, 2);
    EXPECT_TRUE(at::equal(g.flatten(), at::arange(8, at::kFloat)));  // (it, ih, iw) order
}

TEST(WanVaeOps, DupUp3D) {
    // 2 in channels -> 1 out channel with (1, 2, 2): r = 2; gathered channel j reads j div 2.
    const at::Tensor x = at::tensor({1.f, 2.f}).view({1, 2, 1, 1, 1});
    const at::Tensor y = wan_vae::dup_up3d(x, 1, 1, 2, false);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 1, 2, 2}));
    EXPECT_TRUE(at::equal(y.flatten(), at::tensor({1.f, 1.f, 2.f, 2.f})));
    // Temporal: 1 channel -> 1 with (2, 1, 1): r = 2, frames 2t and 2t+1 copy frame t.
    const at::Tensor t = at::tensor({5.f, 7.f}).view({1, 1, 2, 1, 1});
    EXPECT_TRUE(at::equal(wan_vae::dup_up3d(t, 1, 2, 1, false).flatten(),
                          at::tensor({5.f, 5.f, 7.f, 7.f})));
    // first_chunk drops ft - 1 = 1 frame.
    EXPECT_TRUE(at::equal(wan_vae::dup_up3d(t, 1, 2, 1, true).flatten(),
                          at::tensor({5.f, 7.f, 7.f})));
    // DupUp3D inverts AvgDown3D's regrouping for matching factors (no averaging at g = 1).
    const at::Tensor r = randn({1, 2, 4, 4, 6}, 6);
    EXPECT_TRUE(at::equal(wan_vae::dup_up3d(wan_vae::avg_down3d(r, 16, 2, 2), 2, 2, 2, false), r));
}

TEST(WanVaeOps, RmsNormChannels) {
    const at::Tensor x = randn({1, 5, 2, 3, 3}, 7);
    const at::Tensor g = randn({5, 1, 1, 1}, 8);
    const at::Tensor ref = x * at::rsqrt(x.pow(2).mean(1, true)) * g.view({1, 5, 1, 1, 1});
    EXPECT_TRUE(near(wan_vae::rms_norm_channels(x, g), ref, 1e-5, "rms"));
    // x = 0 stays 0 (the norm is clamped, no NaN).
    EXPECT_TRUE(at::equal(wan_vae::rms_norm_channels(at::zeros({1, 5, 1, 1, 1}), g),
                          at::zeros({1, 5, 1, 1, 1})));
}

// --- keys ----------------------------------------------------------------------------------------

TEST(WanVaeKeys, GoldenWeightsMatchTheStructure) {
    models::SpecCollector specs;
    wan_vae::WanVaeWeights w;
    w.visit(specs, golden_model().config());
    ASSERT_EQ(specs.specs().size(), 196u);
    const auto file = io::SafetensorsFile::open(golden("vae/wan22/weights.safetensors"));
    ASSERT_EQ(file->tensors().size(), 196u);
    for (const auto& s : specs.specs()) {
        ASSERT_TRUE(file->contains(s.key)) << s.key;
    }
}

TEST(WanVaeKeys, RealConfigCounts) {
    models::SpecCollector all, enc, dec;
    wan_vae::WanVaeWeights w;
    const WanVaeConfig real;
    w.visit(all, real);
    w.visit(enc, real, true, false);
    w.visit(dec, real, false, true);
    EXPECT_EQ(all.specs().size(), 196u);
    EXPECT_EQ(all.parameter_count(), 704688668);  // spec §1.1
    // encoder 149,627,776 + conv1 9,312; decoder 555,049,228 + conv2 2,352.
    EXPECT_EQ(enc.parameter_count(), 149627776 + 9312);
    EXPECT_EQ(dec.parameter_count(), 555049228 + 2352);
    std::map<std::string, std::vector<int64_t>> shape;
    for (const auto& s : all.specs()) shape[s.key] = s.shape;
    EXPECT_EQ(shape.at("decoder.upsamples.0.upsamples.3.time_conv.weight"),
              (std::vector<int64_t>{2048, 1024, 3, 1, 1}));
    EXPECT_EQ(shape.at("encoder.downsamples.2.downsamples.2.time_conv.weight"),
              (std::vector<int64_t>{640, 640, 3, 1, 1}));
    EXPECT_EQ(shape.at("decoder.head.2.weight"), (std::vector<int64_t>{12, 256, 3, 3, 3}));
    EXPECT_EQ(shape.at("decoder.middle.1.norm.gamma"), (std::vector<int64_t>{1024, 1, 1}));
    EXPECT_EQ(shape.at("decoder.upsamples.3.upsamples.0.shortcut.weight"),
              (std::vector<int64_t>{256, 512, 1, 1, 1}));
}

// --- config --------------------------------------------------------------------------------------

TEST(WanVaeConfigTest, Defaults) {
    const WanVaeConfig c;
    EXPECT_EQ(c.dim, 160);
    EXPECT_EQ(c.dec_dim, 256);
    EXPECT_EQ(c.z_dim, 48);
    EXPECT_EQ(c.dim_mult, (std::vector<int64_t>{1, 2, 4, 4}));
    EXPECT_EQ(c.num_res_blocks, 2);
    EXPECT_EQ(c.temperal_downsample, std::vector<bool>({false, true, true}));
    const auto dec = c.decoder_stages();
    ASSERT_EQ(dec.size(), 4u);
    EXPECT_TRUE(dec[0].temporal && dec[1].temporal && !dec[2].temporal);
    EXPECT_FALSE(dec[3].resample || dec[3].has_shortcut);
    EXPECT_EQ(dec[2].out_channels, 512);
    const auto enc = c.encoder_stages();
    EXPECT_TRUE(!enc[0].temporal && enc[1].temporal && enc[2].temporal && !enc[3].resample);
}

TEST(WanVaeConfigTest, FolderWithoutVaeConfigUsesRealDefaults) {
    const std::string dir = testing::temp_dir("wan-cfg");
    EXPECT_EQ(WanVaeConfig::from_model_dir(dir).dim, 160);
    // A Wan2.2-TI2V-5B folder's config.json belongs to the DiT.
    std::ofstream(dir + "/config.json") << R"({"_class_name": "WanModel", "dim": 3072})";
    EXPECT_EQ(WanVaeConfig::from_model_dir(dir).dim, 160);
}

TEST(WanVaeConfigTest, BadValuesNameTheKey) {
    auto j = nlohmann::json::parse(R"({"WanVAE_kwargs": {"dim": "eight"}})");
    EXPECT_NE(error_of([&] { WanVaeConfig::from_json(j); }).find("'dim'"), std::string::npos);
    j = nlohmann::json::parse(R"({"temperal_downsample": [false, true]})");
    EXPECT_NE(error_of([&] { WanVaeConfig::from_json(j); }).find("temperal_downsample"),
              std::string::npos);
    j = nlohmann::json::parse(R"({"dimm": 3})");
    EXPECT_NE(error_of([&] { WanVaeConfig::from_json(j); }).find("'dimm'"), std::string::npos);
}

// --- bad inputs ----------------------------------------------------------------------------------

TEST(WanVaeErrors, LatentWithWrongChannelCount) {
    const std::string e = error_of([] { golden_model().decode(at::zeros({1, 16, 2, 4, 4})); });
    EXPECT_NE(e.find("16 channels"), std::string::npos) << e;
    EXPECT_NE(e.find("z_dim = 48"), std::string::npos) << e;
    EXPECT_NE(error_of([] { golden_model().decode(at::zeros({48, 2, 4, 4})); }).find("[B, 48"),
              std::string::npos);
}

TEST(WanVaeErrors, SpatialSizeNotDivisible) {
    const std::string e = error_of([] { golden_model().encode(at::zeros({1, 3, 1, 64, 40})); });
    EXPECT_NE(e.find("multiples of 16"), std::string::npos) << e;
    EXPECT_NE(e.find("W=40"), std::string::npos) << e;
    const std::string c = error_of([] { golden_model().encode(at::zeros({1, 4, 1, 64, 64})); });
    EXPECT_NE(c.find("3 channels"), std::string::npos) << c;
}

TEST(WanVaeErrors, ConfigWeightsMismatch) {
    // The real config against the tiny golden weights: shapes differ, named per key.
    const std::string e = error_of([] {
        WanVae::load(golden("vae/wan22"), WanVaeConfig{});
    });
    EXPECT_NE(e.find("encoder.conv1.weight"), std::string::npos) << e;
    EXPECT_NE(e.find("160"), std::string::npos) << e;
    // One residual block fewer per stage: the Resample moves to index 1 (missing there) and
    // the file's index-2 Resample is left over (unexpected).
    WanVaeConfig fewer = golden_model().config();
    fewer.num_res_blocks = 1;
    WanVaeOptions encoder_only;
    encoder_only.load_decoder = false;
    const std::string u =
        error_of([&] { WanVae::load(golden("vae/wan22"), fewer, encoder_only); });
    EXPECT_NE(u.find("missing tensor 'encoder.downsamples.0.downsamples.1.resample.1.weight'"),
              std::string::npos) << u;
    EXPECT_NE(u.find("unexpected tensor 'encoder.downsamples.0.downsamples.2.resample.1"),
              std::string::npos) << u;
}

TEST(WanVaeErrors, MissingWeightsFile) {
    const std::string dir = testing::temp_dir("wan-empty");
    std::ofstream(dir + "/Wan2.2_VAE.pth") << "x";
    const std::string e = error_of([&] { WanVae::load_dir(dir); });
    EXPECT_NE(e.find("Wan2.2_VAE.safetensors"), std::string::npos) << e;
    EXPECT_NE(e.find("convert"), std::string::npos) << e;
}

TEST(WanVaeErrors, HalfLoadedModel) {
    WanVaeOptions opt;
    opt.load_decoder = false;
    const auto enc = WanVae::load_dir(golden("vae/wan22"), opt);
    const at::Tensor video = golden_case().input("encode.input_video");
    EXPECT_TRUE(near(enc.encode(video), golden_model().encode(video), 0, "encoder-only"));
    EXPECT_NE(error_of([&] { enc.decode(at::zeros({1, 48, 1, 1, 1})); }).find("decoder was not"),
              std::string::npos);
}

// --- CLI -----------------------------------------------------------------------------------------

TEST(WanVaeConform, CliWritesReferenceNames) {
    const std::string dir = testing::temp_dir("wan-cli");
    const std::string out_path = dir + "/out.safetensors";
    std::string out;
    const int rc = testing::run_command(
        testing::canter_binary() + " conform wan-vae --model " + golden("vae/wan22") +
            " --case " + golden("vae/wan22/case.safetensors") + " --out " + out_path +
            " --precision fp32",
        &out);
    ASSERT_EQ(rc, 0) << out;
    auto got = io::SafetensorsFile::open(out_path);
    auto ref = io::SafetensorsFile::open(golden("vae/wan22/case.safetensors"));
    for (const char* n : {"encode.output_latent", "decode.output_video_unclamped",
                          "decode.output_video", "roundtrip.decode_of_encode_output",
                          "scale.mean", "scale.inv_std"}) {
        ASSERT_TRUE(got->contains(n)) << n;
        const at::Tensor e = ref->tensor(n);
        EXPECT_TRUE(near(got->tensor(n), e, tol_for(e), std::string("cli ") + n));
    }
}

// --- spatial tiling ------------------------------------------------------------------------------

TEST(WanVaeTiling, TileStartsAndWeights) {
    EXPECT_EQ(wan_vae::tile_starts(5, 8, 2), std::vector<int64_t>({0}));
    EXPECT_EQ(wan_vae::tile_starts(10, 6, 2), std::vector<int64_t>({0, 4}));
    EXPECT_EQ(wan_vae::tile_starts(11, 6, 2), std::vector<int64_t>({0, 4, 5}));
    // Neighbouring ramps over a shared overlap of 32 pixels sum to one.
    const at::Tensor a = wan_vae::blend_weights(96, 0, 32), b = wan_vae::blend_weights(96, 32, 0);
    EXPECT_TRUE(near(a.narrow(0, 64, 32) + b.narrow(0, 0, 32), at::ones({32}), 1e-6, "ramps"));
    EXPECT_EQ(a[75].item<float>(), 1.f);  // within 3o/8 of b's cut edge: only a counts
    EXPECT_EQ(b[11].item<float>(), 0.f);
    EXPECT_EQ(a[85].item<float>(), 0.f);
}

TEST(WanVaeTiling, ForcedTilingMatchesUntiled) {
    auto model = WanVae::load_dir(golden("vae/wan22"));
    model.mutable_options().tile_overlap = 24;
    // Two latent frames (the temporal paths run per tile) tiled along W, then one frame tiled
    // along both axes (4 tiles).
    for (const auto& shape : {std::vector<int64_t>{1, 48, 2, 8, 32},
                              std::vector<int64_t>{1, 48, 1, 32, 32}}) {
        const at::Tensor z = randn(shape, 9);
        model.mutable_options().tile_latent_size = 0;
        const at::Tensor full = model.decode_unclamped(z);
        model.mutable_options().tile_latent_size = 28;  // tiles at 0 and 4 per tiled axis
        const at::Tensor tiled = model.decode_unclamped(z);
        EXPECT_TRUE(near(tiled, full, 1e-3, "tiled decode " + shape_str(shape)));
    }
}

}  // namespace
}  // namespace canter
