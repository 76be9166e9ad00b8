// The DiT on a configuration and geometry unlike the golden ones (portrait, other T, other
// head grouping, local attention in some layers): bf16 must agree with canter's fp32 path,
// and a saved/re-loaded model must reproduce itself exactly.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "pipeline/packing.h"
#include "test_util.h"

namespace canter {
namespace {

dit::DitConfig odd_config() {
    // 8 query heads over 2 kv heads (G = 4), head_dim 16, sandwich layers 0 and 2,
    // gelu7 in layer 1 only, local attention in layers 1 and 2.
    return dit::DitConfig::from_json({{"num_layers", 3}, {"hidden_size", 128}, {"head_dim", 16},
                                      {"num_query_groups", 2}, {"mm_layers", {0, 2}}, {"gelu7_layers", {1}},
                                      {"local_attn_layers", {1, 2}}, {"video_in_channels", 192},
                                      {"audio_in_channels", 64}, {"text_in_channels", 40}});
}

pipeline::PackedInput odd_input(uint64_t seed, const pipeline::DataProxyConfig& proxy) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    // Portrait latent (H > W), T = 7, audio (T-1)*4+1 = 25 frames, 9 of 12 text tokens real.
    return pipeline::pack(at::randn({1, 48, 7, 10, 4}, g), at::randn({1, 25, 64}, g),
                          at::randn({1, 12, 40}, g), 9, proxy);
}

TEST(DitConsistency, Bf16AgreesWithFp32OnAnotherGeometry) {
    pipeline::DataProxyConfig proxy;
    proxy.frame_receptive_field = 1;
    const auto packed = odd_input(7, proxy);
    ASSERT_EQ(packed.seq.num_video(), 7 * 5 * 2);
    dit::DitOptions f32, b16;
    f32.precision = dit::Precision::kFP32;
    b16.precision = dit::Precision::kBF16;
    const auto ref = dit::DitModel::random(odd_config(), f32, 99).forward(packed.seq);
    const auto out = dit::DitModel::random(odd_config(), b16, 99).forward(packed.seq);
    for (auto [name, a, b] : {std::tuple{"video", out.video, ref.video}, std::tuple{"audio", out.audio, ref.audio}}) {
        const double scale = b.abs().max().item<double>();
        const auto d = testing::compare(a, b);
        std::cout << "  " << name << ": bf16 vs fp32 " << d.describe() << ", output scale " << scale << "\n";
        // bf16 keeps ~3 significant digits per rounding; a 3-layer stack stays within 2% of scale.
        EXPECT_LT(d.max_abs, 0.02 * scale) << name;
        const double cos = at::cosine_similarity(a.flatten(), b.flatten(), 0).item<double>();
        EXPECT_GT(cos, 0.9999) << name;
    }
    // Unpacking restores the latent layout.
    EXPECT_EQ(pipeline::unpack_video(out.video, packed.geometry, proxy).sizes(), (at::IntArrayRef{1, 48, 7, 10, 4}));
}

TEST(DitConsistency, LocalAttentionChangesVideoRowsOnly) {
    // With a receptive field of 1 frame the local layers differ from global ones; with a field
    // covering every frame they are identical to global attention.
    dit::DitOptions f32;
    f32.precision = dit::Precision::kFP32;
    auto config = odd_config();
    const auto model_local = dit::DitModel::random(config, f32, 5);
    config.local_attn_layers = {};
    const auto model_global = dit::DitModel::random(config, f32, 5);
    pipeline::DataProxyConfig narrow, wide;
    narrow.frame_receptive_field = 1;
    wide.frame_receptive_field = 7;
    const auto g = model_global.forward(odd_input(3, narrow).seq);
    const auto n = model_local.forward(odd_input(3, narrow).seq);
    const auto w = model_local.forward(odd_input(3, wide).seq);
    EXPECT_GT((n.video - g.video).abs().max().item<double>(), 1e-3);
    EXPECT_LT((w.video - g.video).abs().max().item<double>(), 1e-5);
    EXPECT_LT((w.audio - g.audio).abs().max().item<double>(), 1e-5);
}

TEST(DitConsistency, SavedModelReloadsStrictlyAndReproduces) {
    dit::DitOptions f32;
    f32.precision = dit::Precision::kFP32;
    const auto config = odd_config();
    const auto model = dit::DitModel::random(config, f32, 11);
    // Collect the in-memory tensors under their state-dict keys and write them out.
    struct Collect : models::WeightVisitor {
        std::map<std::string, at::Tensor> out;
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>&, at::ScalarType, bool) override {
            out[key] = slot;
        }
    } collect;
    dit::DitWeights w = model.weights();
    w.visit(collect, config, at::kFloat);
    const std::string dir = testing::temp_dir("dit-roundtrip");
    io::write_safetensors(dir + "/model.safetensors", collect.out);
    const auto reloaded = dit::DitModel::load(dir, config, f32);
    pipeline::DataProxyConfig proxy;
    const auto packed = odd_input(1, proxy);
    EXPECT_TRUE(at::equal(model.forward(packed.seq).video, reloaded.forward(packed.seq).video));
}

TEST(DitConsistency, WrongInputWidthIsAnError) {
    dit::DitOptions f32;
    const auto model = dit::DitModel::random(odd_config(), f32, 1);
    auto packed = odd_input(1, {});
    packed.seq.text = at::zeros({9, 41});
    try {
        model.forward(packed.seq);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("text tokens must be [N, 40]"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace canter
