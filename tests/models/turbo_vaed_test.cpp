// TurboVAED: both golden folders (invented config with the pixel-shuffle head and dw-convs;
// the real config structure with unpatchify), the window plan against the case metadata,
// other latent lengths, block-level oracles, bad inputs, the CLI runner and spatial tiling.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/common/wan_latent_scale.h"
#include "models/common/weights.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "models/turbo_vaed/turbo_vaed_tiling.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::error_of;

using testing::golden;
using testing::near;
using turbo_vaed::TurboVaed;
using turbo_vaed::TurboVaedConfig;

constexpr double kTol = 1e-4;  // golden/README.md: VAEs fp32, max abs


nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    nlohmann::json j;
    in >> j;
    return j;
}

const TurboVaed& real_model() {
    static const TurboVaed m = TurboVaed::load_dir(golden("vae/turbo_vaed_real"));
    return m;
}

// --- golden cases ------------------------------------------------------------------------------

void check_golden_folder(const std::string& folder, const std::vector<std::string>& cases) {
    const auto model = TurboVaed::load_dir(golden(folder));
    conform::CaseFile c(golden(folder + "/case.safetensors"));
    for (const auto& name : cases) {
        const at::Tensor out = model.decode(c.input(name + ".input_latent"));
        EXPECT_TRUE(near(out, c.input(name + ".output_video"), kTol, folder + " " + name));
    }
    EXPECT_TRUE(near(models::wan_latent_mean(), c.input("scale.mean"), 0, "scale.mean"));
    EXPECT_TRUE(near(models::wan_latent_inv_std(), c.input("scale.inv_std"), 0, "scale.inv_std"));
}

TEST(TurboVaedGolden, InventedConfigPixelShuffleHead) {
    check_golden_folder("vae/turbo_vaed", {"decode", "decode3"});
}

TEST(TurboVaedGolden, RealConfigStructure) {
    check_golden_folder("vae/turbo_vaed_real", {"decode", "decode_short"});
}

TEST(TurboVaedGolden, ConfigReadAsShipped) {
    const auto c = TurboVaedConfig::from_model_dir(golden("vae/turbo_vaed_real"));
    EXPECT_TRUE(c.use_unpatchify);
    EXPECT_EQ(c.first_chunk_size, 7);
    EXPECT_EQ(c.step_size, 7);
    EXPECT_EQ(c.temporal_upsamples(), 2);
    const auto ups = c.up_blocks();
    ASSERT_EQ(ups.size(), 4u);
    // Decoder order: 64 -> 64 -> 32 -> 16 -> 8; up2 spatial-only; up3 no upsampler.
    EXPECT_EQ(ups[0].in_channels, 64);
    EXPECT_EQ(ups[3].out_channels, 8);
    EXPECT_EQ(ups[0].num_layers, 3);
    EXPECT_EQ(ups[3].num_layers, 2);
    EXPECT_TRUE(ups[0].upsample && !ups[0].spatial_only);
    EXPECT_TRUE(ups[2].upsample && ups[2].spatial_only);
    EXPECT_FALSE(ups[3].upsample);
    EXPECT_EQ(c.mid_layers(), 3);

    // The weights file lists exactly what the config implies (80 tensors, 1,749,988 params).
    models::SpecCollector specs;
    turbo_vaed::TurboVaedWeights w;
    w.visit(specs, c);
    EXPECT_EQ(specs.specs().size(), 80u);
    EXPECT_EQ(specs.parameter_count(), 1749988);
}

TEST(TurboVaedGolden, RealFullSizeParameterCount) {
    // encoders.md §2.3: the shipped decoder has 107,122,892 parameters in 80 tensors.
    auto j = read_json(golden("vae/turbo_vaed_real/config.json"));
    j["decoder_block_out_channels"] = {64, 128, 256, 512};
    const auto c = TurboVaedConfig::from_json(j);
    models::SpecCollector specs;
    turbo_vaed::TurboVaedWeights w;
    w.visit(specs, c);
    EXPECT_EQ(specs.specs().size(), 80u);
    EXPECT_EQ(specs.parameter_count(), 107122892);
}

// --- window plan -------------------------------------------------------------------------------

TEST(TurboVaedWindows, MatchCaseMetadata) {
    conform::CaseFile c(golden("vae/turbo_vaed_real/case.safetensors"));
    const auto& config = real_model().config();
    for (const std::string name : {"decode", "decode_short"}) {
        SCOPED_TRACE(name);
        const nlohmann::json meta = c.meta(name);
        ASSERT_TRUE(meta.is_object());
        const int64_t n = c.input(name + ".input_latent").size(2);
        const auto plan = turbo_vaed::plan_windows(n, config);
        EXPECT_EQ(plan.num_padding_frames, meta.at("num_padding_frames").get<int64_t>());
        const auto& windows = meta.at("windows");
        ASSERT_EQ(plan.calls.size(), windows.size());
        for (size_t i = 0; i < windows.size(); ++i) {
            const auto& w = windows[i];
            const auto& p = plan.calls[i];
            EXPECT_EQ(p.latent_begin, w.at("latent_frames")[0].get<int64_t>());
            EXPECT_EQ(p.latent_end, w.at("latent_frames")[1].get<int64_t>());
            EXPECT_EQ(p.is_first_chunk, w.at("is_first_chunk").get<bool>());
            EXPECT_EQ(p.decoder_output_frames, w.at("decoder_output_frames").get<int64_t>());
            EXPECT_EQ(p.keep_begin, w.at("kept_frames")[0].get<int64_t>());
            EXPECT_EQ(p.keep_end, w.at("kept_frames")[1].get<int64_t>());
            EXPECT_EQ(p.output_begin, w.at("output_frames")[0].get<int64_t>());
            EXPECT_EQ(p.output_end, w.at("output_frames")[1].get<int64_t>());
        }
        EXPECT_EQ(plan.output_frames, c.input(name + ".output_video").size(2));
    }
}

TEST(TurboVaedWindows, ArithmeticForManyLengths) {
    const auto& config = real_model().config();  // F = S = 7
    for (int64_t n : {1, 2, 6, 7, 8, 13, 14, 15, 26, 100}) {
        SCOPED_TRACE(n);
        const auto plan = turbo_vaed::plan_windows(n, config);
        EXPECT_EQ(plan.output_frames, 4 * n - 3);
        const int64_t padded = n + plan.num_padding_frames;
        EXPECT_TRUE(padded == 7 || (padded - 7) % 7 == 0);
        EXPECT_LT(plan.num_padding_frames, 7);
        int64_t at = 0;
        for (const auto& c : plan.calls) {
            EXPECT_EQ(c.output_begin, at);  // kept pieces tile the output without gaps
            at = c.output_end;
            EXPECT_GE(c.latent_begin, 0);
            EXPECT_LE(c.latent_end, padded);
        }
        EXPECT_EQ(at, plan.concat_frames);
        EXPECT_EQ(plan.calls.size(), padded == 7 ? 1u : size_t(1 + (padded - 7) / 7));
    }
    // The real 4 s clip (encoders.md §2.4): N = 26 -> pad 2, windows [0,8) [6,15) [13,22) [20,28).
    const auto p = turbo_vaed::plan_windows(26, config);
    EXPECT_EQ(p.num_padding_frames, 2);
    ASSERT_EQ(p.calls.size(), 4u);
    const int64_t expect[4][2] = {{0, 8}, {6, 15}, {13, 22}, {20, 28}};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(p.calls[i].latent_begin, expect[i][0]);
        EXPECT_EQ(p.calls[i].latent_end, expect[i][1]);
    }
    EXPECT_EQ(p.concat_frames, 109);
    EXPECT_EQ(p.output_frames, 101);
    // The invented golden config: F = 3, S = 5, 9 -> 13 latent frames, 33 output frames.
    const auto inv = TurboVaedConfig::from_model_dir(golden("vae/turbo_vaed"));
    const auto q = turbo_vaed::plan_windows(9, inv);
    EXPECT_EQ(q.num_padding_frames, 4);
    EXPECT_EQ(q.output_frames, 33);
}

TEST(TurboVaedWindows, OtherLatentLengthsDecode) {
    const auto& model = real_model();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    for (int64_t n : {1, 7, 8, 14, 22}) {
        SCOPED_TRACE(n);
        const at::Tensor z = at::randn({1, 48, n, 1, 1}, gen);
        at::Tensor out;
        ASSERT_NO_THROW(out = model.decode(z));
        EXPECT_EQ(out.sizes(), at::IntArrayRef({1, 3, 4 * n - 3, 16, 16}));
        EXPECT_TRUE(at::isfinite(out).all().item<bool>());
    }
}

// --- blocks ------------------------------------------------------------------------------------

TEST(TurboVaedBlocks, ReplicatePaddingKeepsConstantInTime) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
    const at::Tensor frame = at::randn({1, 4, 1, 5, 6}, gen);
    const at::Tensor x = frame.expand({1, 4, 5, 5, 6}).contiguous();
    for (bool separable : {false, true}) {
        turbo_vaed::ReplicateConv3d conv;
        struct Fill : models::WeightVisitor {
            at::Generator g;
            void visit(const std::string&, at::Tensor& slot, const std::vector<int64_t>& shape,
                       at::ScalarType, bool) override {
                slot = at::randn(shape, g);
            }
        } fill;
        fill.g = gen;
        conv.visit(fill, "c", 4, 3, {3, 3, 3}, separable);
        const at::Tensor y = conv.forward(x);
        ASSERT_EQ(y.sizes(), at::IntArrayRef({1, 3, 5, 5, 6}));
        for (int t = 1; t < 5; ++t)
            EXPECT_TRUE(near(y.select(2, t), y.select(2, 0), 1e-5, "frame " + std::to_string(t)));
    }
}

TEST(TurboVaedBlocks, UnpatchifyAndPixelShuffleOrder) {
    // 1 output channel, 2x2 patch: conv channel 2j + i lands on pixel (i, j).
    const at::Tensor x = at::arange(4, at::kFloat).view({1, 4, 1, 1, 1});
    const at::Tensor u = turbo_vaed::unpatchify(x, 2).view({2, 2});
    EXPECT_EQ(u[0][0].item<float>(), 0);  // (i=0, j=0)
    EXPECT_EQ(u[1][0].item<float>(), 1);  // channel 1 = (i=1, j=0)
    EXPECT_EQ(u[0][1].item<float>(), 2);  // channel 2 = (i=0, j=1)
    EXPECT_EQ(u[1][1].item<float>(), 3);
    // pixel_shuffle is row-major: channel 2i + j -> (i, j).
    const at::Tensor s = turbo_vaed::per_frame_pixel_shuffle(x, 2).view({2, 2});
    EXPECT_EQ(s[0][1].item<float>(), 1);
    EXPECT_EQ(s[1][0].item<float>(), 2);
}

// --- bad input ---------------------------------------------------------------------------------

TEST(TurboVaedErrors, WrongChannelCount) {
    const std::string msg = error_of([] { real_model().decode(at::zeros({1, 47, 3, 2, 2})); });
    EXPECT_NE(msg.find("47 channels"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expects 48"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, WrongRank) {
    const std::string msg = error_of([] { real_model().decode(at::zeros({48, 3, 2, 2})); });
    EXPECT_NE(msg.find("rank 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[48, 3, 2, 2]"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, EmptyLatent) {
    const std::string msg = error_of([] { real_model().decode(at::zeros({1, 48, 0, 2, 2})); });
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, ConfigWeightsMismatch) {
    // The real-structure config with the invented golden weights.
    const auto config = TurboVaedConfig::from_model_dir(golden("vae/turbo_vaed_real"));
    const std::string msg =
        error_of([&] { TurboVaed::load(golden("vae/turbo_vaed/weights.safetensors"), config); });
    EXPECT_NE(msg.find("weights do not match"), std::string::npos) << msg;
    EXPECT_NE(msg.find("decoder.conv_in.conv.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected [64, 48, 3, 3, 3]"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, BadConfig) {
    auto j = read_json(golden("vae/turbo_vaed_real/config.json"));
    auto bad = j;
    bad["decoder_layers_per_block"] = {2, 2, 2};
    std::string msg = error_of([&] { TurboVaedConfig::from_json(bad); });
    EXPECT_NE(msg.find("decoder_layers_per_block"), std::string::npos) << msg;
    bad = j;
    bad["latent_channels"] = 16;
    msg = error_of([&] { TurboVaedConfig::from_json(bad); });
    EXPECT_NE(msg.find("latent_channels"), std::string::npos) << msg;
    bad = j;
    bad["use_unpatchify"] = "yes";
    msg = error_of([&] { TurboVaedConfig::from_json(bad); });
    EXPECT_NE(msg.find("use_unpatchify"), std::string::npos) << msg;
    bad = j;
    bad["decoder_causal"] = true;
    msg = error_of([&] { TurboVaedConfig::from_json(bad); });
    EXPECT_NE(msg.find("decoder_causal"), std::string::npos) << msg;
    bad = j;
    bad["temporal_compression_ratio"] = 8;
    msg = error_of([&] { TurboVaedConfig::from_json(bad); });
    EXPECT_NE(msg.find("temporal_compression_ratio"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, MissingWeightsFile) {
    const std::string dir = testing::temp_dir("turbo-noweights");
    std::filesystem::copy_file(golden("vae/turbo_vaed_real/config.json"), dir + "/config.json");
    const std::string msg = error_of([&] { TurboVaed::load_dir(dir); });
    EXPECT_NE(msg.find("weights.safetensors"), std::string::npos) << msg;
}

TEST(TurboVaedErrors, ModulePrefixedKeysAccepted) {
    // A conversion that kept upstream's DDP `module.` prefix still loads, to the same weights.
    const std::string dir = testing::temp_dir("turbo-module");
    auto src = io::SafetensorsFile::open(golden("vae/turbo_vaed_real/weights.safetensors"));
    std::map<std::string, at::Tensor> renamed;
    for (const auto& info : src->tensors()) renamed["module." + info.name] = src->tensor(info);
    io::write_safetensors(dir + "/weights.safetensors", renamed);
    const auto config = real_model().config();
    const auto m = TurboVaed::load(dir, config);
    EXPECT_TRUE(at::equal(m.weights().conv_out.weight, real_model().weights().conv_out.weight));
}

// --- CLI ---------------------------------------------------------------------------------------

TEST(TurboVaedConform, CliWritesReferenceNames) {
    const std::string dir = testing::temp_dir("turbo-cli");
    for (const std::string folder : {"vae/turbo_vaed_real"}) {
        SCOPED_TRACE(folder);
        const std::string out_path = dir + "/out.safetensors";
        std::string out;
        const int rc = testing::run_command(testing::canter_binary() + " conform turbo-vaed --model " +
                                                golden(folder) + " --case " +
                                                golden(folder + "/case.safetensors") + " --out " +
                                                out_path + " --precision fp32",
                                            &out);
        ASSERT_EQ(rc, 0) << out;
        auto got = io::SafetensorsFile::open(out_path);
        auto ref = io::SafetensorsFile::open(golden(folder + "/case.safetensors"));
        int compared = 0;
        for (const auto& info : ref->tensors()) {
            const std::string& n = info.name;
            if (n.size() > 13 && n.compare(n.size() - 13, 13, ".output_video") == 0) {
                ASSERT_TRUE(got->contains(n)) << n;
                EXPECT_TRUE(near(got->tensor(n), ref->tensor(info), kTol, folder + " cli " + n));
                ++compared;
            }
        }
        EXPECT_EQ(compared, 2);
    }
}

// --- spatial tiling ----------------------------------------------------------------------------

TEST(TurboVaedTiling, TileStarts) {
    EXPECT_EQ(turbo_vaed::tile_starts(5, 8, 2), std::vector<int64_t>({0}));
    EXPECT_EQ(turbo_vaed::tile_starts(10, 6, 2), std::vector<int64_t>({0, 4}));
    EXPECT_EQ(turbo_vaed::tile_starts(11, 6, 2), std::vector<int64_t>({0, 4, 5}));
}

TEST(TurboVaedTiling, ReceptiveRadius) {
    // Real structure: 1 + 6 (mid) + 3.5 + 2.25 + 1.125 + 0.75 + 0.125 = 14.75 latent pixels.
    EXPECT_EQ(turbo_vaed::receptive_radius(real_model().config()), 15);
}

TEST(TurboVaedTiling, ForcedTilingMatchesUntiled) {
    // One first-chunk window of one latent frame on the golden real weights, 2x2 tiles; the
    // default halo (the receptive radius) makes every tile exact.
    auto model = TurboVaed::load_dir(golden("vae/turbo_vaed_real"));
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    const at::Tensor z = at::randn({1, 48, 1, 8, 10}, gen);
    const at::Tensor full = model.decode_window(z, true);
    model.mutable_options().tile_latent_size = 5;
    model.mutable_options().tile_overlap = 1;
    const at::Tensor tiled = model.decode_window(z, true);
    EXPECT_TRUE(near(tiled, full, 1e-3, "tiled vs untiled (real weights)"));
}

TEST(TurboVaedTiling, HaloSmallerThanFrame) {
    // A shallow random decoder (receptive radius 6) on a wide latent, so each tile's decoded
    // region (core + halo) is a real crop of the frame.
    auto j = read_json(golden("vae/turbo_vaed_real/config.json"));
    j["decoder_layers_per_block"] = {0, 0, 0, 0, 1};
    const auto config = TurboVaedConfig::from_json(j);
    ASSERT_EQ(turbo_vaed::receptive_radius(config), 6);
    auto model = TurboVaed::random(config, {}, 5);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
    const at::Tensor z = at::randn({1, 48, 1, 3, 32}, gen);
    const at::Tensor full = model.decode_window(z, true);
    model.mutable_options().tile_latent_size = 8;
    model.mutable_options().tile_overlap = 2;
    EXPECT_TRUE(near(model.decode_window(z, true), full, 1e-3, "tiled, halo 6"));
    // Without context the tile borders show: the halo is what makes it exact.
    model.mutable_options().tile_halo = 0;
    EXPECT_GT(testing::compare(model.decode_window(z, true), full).max_abs, 1e-3);
}

}  // namespace
}  // namespace canter
