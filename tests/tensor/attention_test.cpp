#include <ATen/ATen.h>

#include "tensor/attention.h"
#include "test_util.h"

namespace canter {
namespace {

using tensor::AttnRange;

struct Qkv {
    at::Tensor q, k, v;
};

Qkv random_qkv(int64_t L, int64_t hq, int64_t hkv, int64_t d, uint64_t seed) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    return {at::randn({L, hq, d}, g) * 2, at::randn({L, hkv, d}, g) * 2, at::randn({L, hkv, d}, g)};
}

TEST(Attention, BlockedMatchesReferenceFullGqa) {
    auto x = random_qkv(37, 6, 2, 8, 1);
    tensor::AttentionOptions small;
    small.q_block = 5;  // many query blocks
    small.k_block = 7;  // several online-softmax steps per row
    at::Tensor ref = tensor::attention_reference(x.q, x.k, x.v, {}, 0.35);
    EXPECT_TRUE(testing::near(tensor::attention(x.q, x.k, x.v, {}, 0.35, small), ref, 1e-5, "blocked"));
    EXPECT_TRUE(testing::near(tensor::attention(x.q, x.k, x.v, {}, 0.35), ref, 1e-5, "default blocks"));
}

TEST(Attention, RangesMatchMaskedReference) {
    auto x = random_qkv(30, 4, 4, 8, 2);
    // Local-attention shape: 3 "frames" of 6 tokens, then 12 other tokens.
    std::vector<AttnRange> ranges = {{0, 6, 0, 12},  {6, 12, 0, 18}, {12, 18, 6, 18},
                                     {0, 18, 18, 30}, {18, 30, 0, 30}};
    tensor::AttentionOptions small;
    small.q_block = 4;
    small.k_block = 5;
    at::Tensor ref = tensor::attention_reference(x.q, x.k, x.v, ranges, 0.3);
    EXPECT_TRUE(testing::near(tensor::attention(x.q, x.k, x.v, ranges, 0.3, small), ref, 1e-5, "ranges"));
    // Rounding the partial results to bf16 moves the output by about a bf16 ulp, no more.
    small.bf16_partials = true;
    EXPECT_TRUE(testing::near(tensor::attention(x.q, x.k, x.v, ranges, 0.3, small), ref, 2e-2, "bf16 partials"));
}

TEST(Attention, OutOfRangeIsAnError) {
    auto x = random_qkv(10, 2, 2, 4, 3);
    EXPECT_THROW(tensor::attention(x.q, x.k, x.v, {{0, 11, 0, 10}}, 1.0), Error);
    EXPECT_THROW(tensor::attention(x.q, x.k.narrow(1, 0, 1).repeat({1, 3, 1}), x.v, {}, 1.0), Error);
}

}  // namespace
}  // namespace canter
