// The three golden DiT cases at both precisions, through the library (not the CLI).
#include <nlohmann/json.hpp>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/dit/dit_model.h"
#include "models/dit/rope.h"
#include "pipeline/packing.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::golden;
using testing::near;

struct Case {
    std::string name;
    dit::Precision precision;
};

class DitGolden : public ::testing::TestWithParam<Case> {};

// Every golden DiT case at both precisions.
const auto kAllCases = ::testing::Values(Case{"t2v", dit::Precision::kFP32}, Case{"t2v", dit::Precision::kBF16},
                                         Case{"ti2v", dit::Precision::kFP32}, Case{"ti2v", dit::Precision::kBF16},
                                         Case{"local_attn", dit::Precision::kFP32},
                                         Case{"local_attn", dit::Precision::kBF16});

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    return info.param.name + "_" + dit::precision_name(info.param.precision);
}

TEST_P(DitGolden, MatchesReference) {
    const Case& tc = GetParam();
    const bool fp32 = tc.precision == dit::Precision::kFP32;
    // Tolerances from golden/README.md: fp32 port vs fp32.* 2e-5; bf16 port vs native.* 5e-2.
    const double tol = fp32 ? 2e-5 : 5e-2;
    const std::string prefix = fp32 ? "fp32." : "native.";
    auto ref = io::SafetensorsFile::open(golden("dit/case_" + tc.name + ".safetensors"));
    conform::CaseFile c(golden("dit/case_" + tc.name + ".safetensors"));

    dit::DitConfig config = dit::DitConfig::from_model_dir(golden("dit"));
    config.apply(c.meta("arch_overrides", nlohmann::json::object()));
    const auto proxy = pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config"));
    dit::DitOptions options;
    options.precision = tc.precision;
    const auto model = dit::DitModel::load(golden("dit"), config, options);

    const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"),
                                       c.input("input.txt_feat"),
                                       c.input("input.txt_feat_len").item<int64_t>(), proxy);
    // Packing is exact.
    EXPECT_TRUE(near(packed.padded_tokens(3584), ref->tensor("packed.x"), 0, "packed.x"));
    EXPECT_TRUE(near(packed.seq.coords, ref->tensor("packed.coords_mapping"), 0, "coords"));
    EXPECT_TRUE(at::equal(packed.modality, ref->tensor("packed.modality_mapping")));
    EXPECT_TRUE(at::equal(packed.local_q_ranges, ref->tensor("packed.local_q_ranges")));
    EXPECT_TRUE(at::equal(packed.local_k_ranges, ref->tensor("packed.local_k_ranges")));

    std::map<std::string, at::Tensor> taps;
    const auto out = model.forward(packed.seq, [&](const std::string& n, const at::Tensor& t) { taps[n] = t.clone(); });
    EXPECT_TRUE(near(taps.at("adapter_out"), ref->tensor(prefix + "adapter_out"), tol, "adapter_out"));
    EXPECT_TRUE(near(taps.at("rope"), ref->tensor(prefix + "rope"), 1e-6, "rope"));
    for (int i = 0; i < config.num_layers; ++i) {
        const std::string n = "layer_out." + std::to_string(i);
        // Two correct bf16 implementations drift apart in the residual stream as fast as
        // bf16 drifts from fp32 (single-ulp rounding flips grow layer by layer; upstream's own
        // native-vs-fp32 gap reaches 0.049 at layer 5). So the bf16 bound per layer is the
        // contract's 5e-2 or 1.5x upstream's own gap at that layer, whichever is larger; the
        // layer math itself is pinned tightly by DitGoldenLayer below.
        double layer_tol = tol;
        if (!fp32) {
            const double own_gap = (ref->tensor("native." + n) - ref->tensor("fp32." + n)).abs().max().item<double>();
            layer_tol = std::max(tol, 1.5 * own_gap);
        }
        EXPECT_TRUE(near(taps.at(n), ref->tensor(prefix + n), layer_tol, n));
    }
    EXPECT_TRUE(near(pipeline::unpack_video(out.video, packed.geometry, proxy), ref->tensor(prefix + "video_out"),
                     tol, "video_out"));
    EXPECT_TRUE(near(pipeline::unpack_audio(out.audio, packed.geometry), ref->tensor(prefix + "audio_out"), tol,
                     "audio_out"));
}

// Each layer alone, fed the reference's own input, must reproduce the reference output of
// that layer: fp32 to 2e-5; bf16 to 1e-2, i.e. a few bf16 ulps where a rounding tie of an
// fp32 accumulation flips (an error in cast placement shows up as >> 1e-2 across many rows).
class DitGoldenLayer : public DitGolden {};

TEST_P(DitGoldenLayer, EachLayerInIsolation) {
    const Case& tc = GetParam();
    const bool fp32 = tc.precision == dit::Precision::kFP32;
    const std::string prefix = fp32 ? "fp32." : "native.";
    const std::string file = golden("dit/case_" + tc.name + ".safetensors");
    auto ref = io::SafetensorsFile::open(file);
    conform::CaseFile c(file);
    dit::DitConfig config = dit::DitConfig::from_model_dir(golden("dit"));
    config.apply(c.meta("arch_overrides", nlohmann::json::object()));
    dit::DitOptions options;
    options.precision = tc.precision;
    const auto model = dit::DitModel::load(golden("dit"), config, options);
    const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"),
                                       c.input("input.txt_feat"), c.input("input.txt_feat_len").item<int64_t>(),
                                       pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config")));
    const auto rope = dit::rope_table(packed.seq.coords, model.weights().rope_bands);
    for (int i = 0; i < config.num_layers; ++i) {
        const std::string in = i == 0 ? "adapter_out" : "layer_out." + std::to_string(i - 1);
        const std::string n = "layer_out." + std::to_string(i);
        at::Tensor out = model.forward_layer(i, ref->tensor(prefix + in), packed.seq, rope.sin, rope.cos);
        EXPECT_TRUE(near(out, ref->tensor(prefix + n), fp32 ? 2e-5 : 1e-2, "isolated " + n));
    }
}

INSTANTIATE_TEST_SUITE_P(
    AllCases, DitGoldenLayer,
    kAllCases,
    case_name);

INSTANTIATE_TEST_SUITE_P(
    AllCases, DitGolden,
    kAllCases,
    case_name);

}  // namespace
}  // namespace canter
