// Every golden DiT case (dit/ and dit_long/) at both precisions on every device, through the
// library (not the CLI).
#include <nlohmann/json.hpp>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/dit/dit_model.h"
#include "models/dit/rope.h"
#include "pipeline/packing.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::golden;
using testing::near;

// One golden case: the set (`dit`: L = 58; `dit_long`: L = 1,116, GQA 3:1, overlapping windows),
// the case kind, the precision and the device it runs on.
struct Case {
    std::string set;
    std::string name;
    dit::Precision precision;
    std::string device;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.set << "/" << c.name << "/" << dit::precision_name(c.precision) << "/" << c.device;
}

class DitGolden : public ::testing::TestWithParam<Case> {};

// Every golden DiT case of both sets at both precisions on every device.
std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (const std::string& device : testing::golden_devices())
        for (const char* set : {"dit", "dit_long"})
            for (const char* name : {"t2v", "ti2v", "local_attn"})
                for (auto p : {dit::Precision::kFP32, dit::Precision::kBF16}) cases.push_back({set, name, p, device});
    return cases;
}
const auto kAllCases = ::testing::ValuesIn(all_cases());

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    const Case& c = info.param;
    return c.set + "_" + c.name + "_" + dit::precision_name(c.precision) + "_" + c.device;
}

std::string case_file(const Case& c) { return golden(c.set + "/case_" + c.name + ".safetensors"); }

TEST_P(DitGolden, MatchesReference) {
    const Case& tc = GetParam();
    CANTER_SKIP_UNLESS_DEVICE(tc.device);
    const bool fp32 = tc.precision == dit::Precision::kFP32;
    // Tolerances from golden/README.md: fp32 port vs fp32.* 2e-5; bf16 port vs native.* 5e-2.
    const double tol = fp32 ? 2e-5 : 5e-2;
    const std::string prefix = fp32 ? "fp32." : "native.";
    auto ref = io::SafetensorsFile::open(case_file(tc));
    conform::CaseFile c(case_file(tc));

    dit::DitConfig config = dit::DitConfig::from_model_dir(golden(tc.set));
    config.apply(c.meta("arch_overrides", nlohmann::json::object()));
    const auto proxy = pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config"));
    dit::DitOptions options;
    options.precision = tc.precision;
    options.device = c10::Device(tc.device);
    const auto model = dit::DitModel::load(golden(tc.set), config, options);

    const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"),
                                       c.input("input.txt_feat"),
                                       c.input("input.txt_feat_len").item<int64_t>(), proxy);
    // Packing is exact (dit_long leaves packed.x out: 16 MB a case).
    if (ref->contains("packed.x"))
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

// bf16 layer outputs: two correct bf16 implementations differ only where a bf16 rounding of an
// fp32 accumulation lands on the other side of a tie. On an AVX512-BF16 CPU or a GPU the GEMMs
// run natively in bf16 with their own accumulation order, so such flips are more frequent than
// with fp32-widened weights; one flip moves an output by one bf16 ulp of the rounded value
// (2^-6 = 0.0156 for values in [2, 4)). So the bound is: at most 1 bf16 ulp of the tensor's
// largest magnitude anywhere, and at most 0.1 % of the elements beyond 1e-2. Measured on the
// golden cases (AVX512-BF16, native bf16 GEMMs): <= 0.0158 and <= 0.014 %; with one cast
// removed (the bf16 rounding of the attention output) 0.32-0.89 % of the elements are beyond
// 1e-2 in every case, so the test fails.
// `ulps` and `max_beyond` raise the two bounds for attention kernels that round more than
// upstream (DitGoldenLayer below).
::testing::AssertionResult near_bf16_flips(const at::Tensor& actual, const at::Tensor& expected,
                                           const std::string& what, double ulps = 1, double max_beyond = 0.001) {
    if (actual.sizes() != expected.sizes())
        return ::testing::AssertionFailure() << what << ": shape " << actual.sizes() << " vs " << expected.sizes();
    const at::Tensor d = (actual.cpu().to(at::kDouble) - expected.to(at::kDouble)).abs();
    const double peak = expected.abs().max().item<double>();
    const double ulp = ulps * std::ldexp(1.0, static_cast<int>(std::floor(std::log2(std::max(peak, 1e-30)))) - 7);
    const double max_abs = d.max().item<double>();
    const double beyond = (d > 1e-2).to(at::kDouble).mean().item<double>();
    std::cout << "  [compare] " << what << ": max_abs=" << max_abs << " (bound " << ulp << " = " << ulps << " bf16 ulp of "
              << peak << "), " << 100 * beyond << " % beyond 1e-2 (bound " << 100 * max_beyond << " %)\n";
    if (max_abs > ulp || beyond > max_beyond)
        return ::testing::AssertionFailure() << what << ": more than bf16 rounding flips (max_abs " << max_abs
                                             << ", " << 100 * beyond << " % beyond 1e-2)";
    return ::testing::AssertionSuccess();
}

// Each layer alone, fed the reference's own input, must reproduce the reference output of
// that layer: fp32 to 2e-5; bf16 up to rounding flips (near_bf16_flips). Both attention paths
// run (the default one is what DitGolden runs): the reference kernel and the fused path on the
// CPU keep upstream's fp32 softmax probabilities and are held to the flips bound; a kernel that
// rounds the probabilities to bf16 before P.V, as FlashAttention-2 does (the fused bf16 path on
// CUDA; on the CPU the bf16 kernel of AttentionOptions::cpu_bf16_kernel, measured here so the
// difference is on record), moves 0.28-0.79 % of the elements beyond 1e-2 on the golden cases
// and up to 1.02 ulp (AVX512-BF16 CPU): the same signature as a missing cast. Those runs get
// 2 ulps and 2 %; the casts themselves are pinned by the reference-kernel run.
class DitGoldenLayer : public DitGolden {};

TEST_P(DitGoldenLayer, EachLayerInIsolation) {
    const Case& tc = GetParam();
    CANTER_SKIP_UNLESS_DEVICE(tc.device);
    const bool fp32 = tc.precision == dit::Precision::kFP32;
    const bool cuda = tc.device.rfind("cuda", 0) == 0;
    const std::string prefix = fp32 ? "fp32." : "native.";
    const std::string file = case_file(tc);
    auto ref = io::SafetensorsFile::open(file);
    conform::CaseFile c(file);
    dit::DitConfig config = dit::DitConfig::from_model_dir(golden(tc.set));
    config.apply(c.meta("arch_overrides", nlohmann::json::object()));
    const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"),
                                       c.input("input.txt_feat"), c.input("input.txt_feat_len").item<int64_t>(),
                                       pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config")));
    struct Variant {
        std::string name;
        tensor::KernelChoice kernel;
        bool cpu_bf16_kernel;
        bool rounds_probabilities;
    };
    std::vector<Variant> variants = {{"reference kernel", tensor::KernelChoice::kReference, false, false},
                                     {"fused", tensor::KernelChoice::kFused, false, cuda && !fp32}};
    if (!fp32 && !cuda && tensor::has_fast_bf16_matmul(c10::Device(tc.device)))
        variants.push_back({"fused, bf16 CPU kernel", tensor::KernelChoice::kFused, true, true});
    for (const Variant& var : variants) {
        dit::DitOptions options;
        options.precision = tc.precision;
        options.device = c10::Device(tc.device);
        options.attention.kernel = var.kernel;
        options.attention.cpu_bf16_kernel = var.cpu_bf16_kernel;
        const auto model = dit::DitModel::load(golden(tc.set), config, options);
        const auto rope = dit::rope_table(packed.seq.coords.to(options.device), model.weights().rope_bands);
        for (int i = 0; i < config.num_layers; ++i) {
            const std::string in = i == 0 ? "adapter_out" : "layer_out." + std::to_string(i - 1);
            const std::string n = "layer_out." + std::to_string(i);
            const std::string what = "isolated " + n + " (" + var.name + ")";
            at::Tensor out =
                model.forward_layer(i, ref->tensor(prefix + in).to(options.device), packed.seq, rope.sin, rope.cos);
            if (fp32) EXPECT_TRUE(near(out, ref->tensor(prefix + n), 2e-5, what));
            else if (var.rounds_probabilities) EXPECT_TRUE(near_bf16_flips(out, ref->tensor(prefix + n), what, 2, 0.02));
            else EXPECT_TRUE(near_bf16_flips(out, ref->tensor(prefix + n), what));
        }
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
