#include "tensor/attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tensor/ops.h"
#include "test_util.h"

namespace canter {
namespace {

using tensor::AttnRange;
using tensor::KernelChoice;

struct Qkv {
    at::Tensor q, k, v;
};

Qkv random_qkv(int64_t L, int64_t hq, int64_t hkv, int64_t d, uint64_t seed) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    return {at::randn({L, hq, d}, g) * 2, at::randn({L, hkv, d}, g) * 2, at::randn({L, hkv, d}, g)};
}

Qkv rounded_bf16(const Qkv& x) {
    return {tensor::round_bf16(x.q), tensor::round_bf16(x.k), tensor::round_bf16(x.v)};
}

// One bf16 ulp of the largest magnitude in t (2^-7 relative to its power of two).
double bf16_ulp(const at::Tensor& t) {
    const double peak = t.abs().max().item<double>();
    return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(std::max(peak, 1e-30)))) - 7);
}

// The local-attention layout packing.cpp builds: `frames` video frames of `frame` tokens, frame
// i sees frames i-rf..i+rf (windows overlap for rf >= 1) plus every other token; the other
// tokens (audio, text) see everything.
std::vector<AttnRange> local_ranges(int64_t L, int64_t frames, int64_t frame, int64_t rf) {
    std::vector<AttnRange> r;
    const int64_t nv = frames * frame;
    for (int64_t t = 0; t < frames; ++t)
        r.push_back({t * frame, (t + 1) * frame, std::max<int64_t>(0, t - rf) * frame,
                     std::min(frames, t + rf + 1) * frame});
    r.push_back({0, nv, nv, L});
    r.push_back({nv, L, 0, L});
    return r;
}

tensor::AttentionOptions with(KernelChoice kernel, bool bf16 = false) {
    tensor::AttentionOptions o;
    o.kernel = kernel;
    o.bf16 = bf16;
    return o;
}

TEST(Attention, BlockedMatchesReferenceFullGqa) {
    auto x = random_qkv(37, 6, 2, 8, 1);
    tensor::AttentionOptions small;
    small.q_block = 5;  // many query blocks
    small.k_block = 7;  // several online-softmax steps per row
    at::Tensor ref = tensor::attention_reference(x.q, x.k, x.v, {}, 0.35);
    EXPECT_TRUE(testing::near(tensor::attention_blocked(x.q, x.k, x.v, {}, 0.35, small), ref, 1e-5,
                              "blocked"));
    EXPECT_TRUE(testing::near(tensor::attention_blocked(x.q, x.k, x.v, {}, 0.35), ref, 1e-5,
                              "default blocks"));
}

TEST(Attention, RangesMatchMaskedReference) {
    auto x = random_qkv(30, 4, 4, 8, 2);
    // Local-attention shape: 3 "frames" of 6 tokens, then 12 other tokens.
    std::vector<AttnRange> ranges = {
        {0, 6, 0, 12}, {6, 12, 0, 18}, {12, 18, 6, 18}, {0, 18, 18, 30}, {18, 30, 0, 30}};
    tensor::AttentionOptions small;
    small.q_block = 4;
    small.k_block = 5;
    at::Tensor ref = tensor::attention_reference(x.q, x.k, x.v, ranges, 0.3);
    EXPECT_TRUE(testing::near(tensor::attention_blocked(x.q, x.k, x.v, ranges, 0.3, small), ref,
                              1e-5, "ranges"));
    EXPECT_TRUE(testing::near(tensor::attention_fused(x.q, x.k, x.v, ranges, 0.3), ref, 1e-5,
                              "fused ranges"));
    // bf16 mode (inputs, partials and output rounded) moves the output by about a bf16 ulp.
    small.bf16 = true;
    at::Tensor ref16 = tensor::attention_reference(rounded_bf16(x).q, rounded_bf16(x).k,
                                                   rounded_bf16(x).v, ranges, 0.3);
    EXPECT_TRUE(testing::near(tensor::attention_blocked(x.q, x.k, x.v, ranges, 0.3, small), ref16,
                              2 * bf16_ulp(ref16), "bf16 partials"));
}

// The fused path against the dense oracle and the blocked kernel, at the sizes that catch
// block-boundary mistakes: L not a multiple of any block size (the CPU flash kernel splits
// queries by 32..256 and keys by 512; the blocked kernel by 256 and 4096), GQA 3:1 and 5:1,
// head_dim 64 and 128, overlapping local windows, on the CPU.
struct Shape {
    int64_t L, Hq, Hkv, D;
    int64_t frames, frame, rf;  // the local layout (frames * frame video tokens)
};

class FusedAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(FusedAttention, MatchesReferenceAndBlockedKernel) {
    const Shape s = GetParam();
    const Qkv x = random_qkv(s.L, s.Hq, s.Hkv, s.D, 100 + s.L);
    const Qkv xb = rounded_bf16(x);
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.D));
    // Ranges that overlap in queries too: a key seen through two ranges counts twice.
    const std::vector<AttnRange> overlapping = {
        {0, s.L / 2 + 7, 0, s.L / 3}, {s.L / 4, s.L, s.L / 5, s.L - 3}, {s.L / 3, s.L / 2, 0, s.L}};
    const std::vector<std::pair<std::string, std::vector<AttnRange>>> layouts = {
        {"full", {}},
        {"local", local_ranges(s.L, s.frames, s.frame, s.rf)},
        {"overlapping", overlapping}};
    for (const auto& [name, ranges] : layouts) {
        // fp32: the CPU flash kernel in fp32 differs from exact softmax by summation order
        // and its vectorised exp only.
        const at::Tensor ref = tensor::attention_reference(x.q, x.k, x.v, ranges, scale);
        const at::Tensor fused =
            tensor::attention(x.q, x.k, x.v, ranges, scale, with(KernelChoice::kFused));
        const at::Tensor blocked =
            tensor::attention(x.q, x.k, x.v, ranges, scale, with(KernelChoice::kReference));
        EXPECT_TRUE(testing::near(fused, ref, 1e-5, name + " fp32 fused vs oracle"));
        EXPECT_TRUE(testing::near(fused, blocked, 1e-5, name + " fp32 fused vs blocked"));

        // bf16: every path rounds its output to bf16 (0.5 ulp of the element each way), so
        // two paths differ by whole-ulp flips where their fp32 sums straddle a rounding
        // boundary. The default fused path (CPU kernel in fp32 on the bf16 values) keeps the
        // probabilities fp32 like the blocked kernel: 1 ulp against it. The bf16 CPU kernel
        // rounds them to bf16 before P.V, as FlashAttention-2 does: more flips, same bound.
        // Against the oracle: 2 ulps of the output's peak.
        const at::Tensor ref16 = tensor::attention_reference(xb.q, xb.k, xb.v, ranges, scale);
        const double ulp = bf16_ulp(ref16);
        const at::Tensor blocked16 =
            tensor::attention(x.q, x.k, x.v, ranges, scale, with(KernelChoice::kReference, true));
        EXPECT_TRUE(testing::near(blocked16, ref16, 2 * ulp, name + " bf16 blocked vs oracle"));
        auto opts = with(KernelChoice::kFused, true);
        for (bool bf16_kernel : {false, true}) {
            if (bf16_kernel && !tensor::has_fast_bf16_matmul(c10::Device(c10::kCPU))) continue;
            opts.cpu_bf16_kernel = bf16_kernel;
            const std::string what =
                name + (bf16_kernel ? " bf16 fused (bf16 kernel)" : " bf16 fused");
            const at::Tensor fused16 = tensor::attention(x.q, x.k, x.v, ranges, scale, opts);
            EXPECT_TRUE(testing::near(fused16, ref16, 2 * ulp,
                                      what + " vs oracle (ulp " + std::to_string(ulp) + ")"));
            EXPECT_TRUE(testing::near(fused16, blocked16, ulp, what + " vs blocked"));
            const double flips = (fused16 != blocked16).to(at::kDouble).mean().item<double>();
            const double rms = (fused16 - ref16).pow(2).mean().sqrt().item<double>();
            std::cout << "  " << what << ": " << 100 * flips
                      << " % of elements differ from the blocked kernel; "
                      << "rms vs oracle " << rms << "\n";
            EXPECT_TRUE(at::equal(fused16, tensor::round_bf16(fused16)))
                << what << ": output not bf16-valued";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttention,
                         ::testing::Values(Shape{1116, 3, 1, 64, 11, 96, 2},  // dit_long's geometry
                                           Shape{1116, 6, 2, 128, 11, 96, 1},   // GQA 3:1, D 128
                                           Shape{4010, 5, 1, 128, 32, 112, 2},  // 256p 5 s, GQA 5:1
                                           Shape{37, 6, 2, 8, 3, 9, 1}),        // tiny blocks
                         [](const ::testing::TestParamInfo<Shape>& i) {
                             const Shape& s = i.param;
                             return "L" + std::to_string(s.L) + "_gqa" + std::to_string(s.Hq) +
                                    "x" + std::to_string(s.Hkv) + "_d" + std::to_string(s.D);
                         });

// Sets an environment variable for one scope (has_fast_bf16_matmul reads its override per call).
struct ScopedEnv {
    std::string name;
    bool had;
    std::string old;
    ScopedEnv(const char* n, const char* value) : name(n), had(std::getenv(n) != nullptr) {
        if (had) old = std::getenv(n);
        setenv(n, value, 1);
    }
    ~ScopedEnv() {
        if (had)
            setenv(name.c_str(), old.c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

// Without native bf16 GEMM the bf16 CPU kernel is not used (ATen's bf16 path there is a scalar
// fallback): the fp32 kernel on the bf16 values, bit for bit.
TEST(Attention, Bf16CpuKernelNeedsNativeBf16Gemm) {
    const ScopedEnv no_bf16_gemm("CANTER_CPU_BF16_MATMUL", "0");
    const Qkv x = random_qkv(300, 3, 1, 64, 7);
    const auto ranges = local_ranges(300, 5, 50, 1);
    auto opts = with(KernelChoice::kFused, true);
    const at::Tensor fp32_kernel = tensor::attention_fused(x.q, x.k, x.v, ranges, 0.125, opts);
    opts.cpu_bf16_kernel = true;
    EXPECT_TRUE(
        at::equal(tensor::attention_fused(x.q, x.k, x.v, ranges, 0.125, opts), fp32_kernel));
}

TEST(Attention, KernelSelection) {
    const Qkv x = random_qkv(50, 4, 2, 16, 5);
    const std::vector<AttnRange> ranges = {{0, 30, 0, 40}, {20, 50, 10, 50}};
    EXPECT_TRUE(
        at::equal(tensor::attention(x.q, x.k, x.v, ranges, 0.25, with(KernelChoice::kReference)),
                  tensor::attention_blocked(x.q, x.k, x.v, ranges, 0.25)));
    EXPECT_TRUE(
        at::equal(tensor::attention(x.q, x.k, x.v, ranges, 0.25, with(KernelChoice::kFused)),
                  tensor::attention_fused(x.q, x.k, x.v, ranges, 0.25)));
    // The default is whatever CANTER_KERNELS says (the suite runs under both).
    const KernelChoice env = tensor::kernels_from_env();
    EXPECT_TRUE(at::equal(tensor::attention(x.q, x.k, x.v, ranges, 0.25),
                          tensor::attention(x.q, x.k, x.v, ranges, 0.25, with(env))));
    EXPECT_EQ(tensor::parse_kernels(nullptr), KernelChoice::kFused);
    EXPECT_EQ(tensor::parse_kernels(""), KernelChoice::kFused);
    EXPECT_EQ(tensor::parse_kernels("fused"), KernelChoice::kFused);
    EXPECT_EQ(tensor::parse_kernels("reference"), KernelChoice::kReference);
    EXPECT_NE(testing::error_of([] { tensor::parse_kernels("fast"); }).find("CANTER_KERNELS"),
              std::string::npos);
}

// A query row in no range outputs zeros on both paths (upstream: no key, no contribution).
TEST(Attention, UncoveredRowsAreZero) {
    const Qkv x = random_qkv(20, 2, 1, 8, 6);
    const std::vector<AttnRange> ranges = {{0, 10, 0, 20}};
    for (auto kernel : {KernelChoice::kFused, KernelChoice::kReference}) {
        const at::Tensor o = tensor::attention(x.q, x.k, x.v, ranges, 0.3, with(kernel));
        EXPECT_TRUE(at::equal(o.narrow(0, 10, 10), at::zeros({10, 2, 8})));
        EXPECT_TRUE(testing::near(o, tensor::attention_reference(x.q, x.k, x.v, ranges, 0.3), 1e-5,
                                  "uncovered"));
    }
}

TEST(Attention, OutOfRangeIsAnError) {
    auto x = random_qkv(10, 2, 2, 4, 3);
    for (auto kernel : {KernelChoice::kFused, KernelChoice::kReference}) {
        EXPECT_THROW(tensor::attention(x.q, x.k, x.v, {{0, 11, 0, 10}}, 1.0, with(kernel)), Error);
        EXPECT_THROW(tensor::attention(x.q, x.k.narrow(1, 0, 1).repeat({1, 3, 1}), x.v, {}, 1.0,
                                       with(kernel)),
                     Error);
    }
}

// CUDA: bf16 through FlashAttention-2 against the oracle; fp32 has no fused kernel there.
TEST(Attention, FusedOnCuda) {
    CANTER_SKIP_UNLESS_DEVICE("cuda");
    const Shape s{1116, 3, 1, 64, 11, 96, 2};
    const Qkv x = random_qkv(s.L, s.Hq, s.Hkv, s.D, 8);
    const Qkv xb = rounded_bf16(x);
    const at::Tensor qc = x.q.cuda(), kc = x.k.cuda(), vc = x.v.cuda();
    EXPECT_FALSE(tensor::fused_attention_applies(qc, false));
    ASSERT_TRUE(tensor::fused_attention_applies(qc, true));
    for (const auto& ranges :
         {std::vector<AttnRange>{}, local_ranges(s.L, s.frames, s.frame, s.rf)}) {
        const at::Tensor ref16 = tensor::attention_reference(xb.q, xb.k, xb.v, ranges, 0.125);
        const at::Tensor fused16 =
            tensor::attention(qc, kc, vc, ranges, 0.125, with(KernelChoice::kFused, true));
        EXPECT_TRUE(
            testing::near(fused16.cpu(), ref16, 2 * bf16_ulp(ref16), "cuda bf16 fused vs oracle"));
        const at::Tensor fp32 =
            tensor::attention(qc, kc, vc, ranges, 0.125, with(KernelChoice::kFused));
        EXPECT_TRUE(testing::near(fp32.cpu(),
                                  tensor::attention_reference(x.q, x.k, x.v, ranges, 0.125), 1e-5,
                                  "cuda fp32 (reference kernel)"));
    }
}

}  // namespace
}  // namespace canter
