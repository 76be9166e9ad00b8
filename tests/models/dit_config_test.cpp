#include <fstream>

#include <nlohmann/json.hpp>

#include "canter/inspect.h"
#include "models/dit/dit_config.h"
#include "test_util.h"

namespace canter {
namespace {

TEST(DitConfig, RealConfigDerivedSizes) {
    const auto c = dit::DitConfig::real();
    EXPECT_EQ(c.num_heads_q, 40);
    EXPECT_EQ(c.qkv_rows(), 7208);
    EXPECT_EQ(c.swiglu_inner(), 13652);
    EXPECT_EQ(c.mlp_up_rows(0), 20480);
    EXPECT_EQ(c.mlp_up_rows(10), 27304);
    EXPECT_EQ(c.experts(37), 3);
    EXPECT_EQ(c.experts(20), 1);
    EXPECT_EQ(c.rope_bands(), 16);
}

TEST(DitConfig, RealParameterCountFromConfigAlone) {
    const std::string dir = testing::temp_dir("cfg");
    // Real checkpoints ship no arch JSON: an empty arch_config means the code defaults.
    std::ofstream(dir + "/config.json") << R"({"arch_config": {}})";
    EXPECT_EQ(dit_parameter_count(dir + "/config.json"), 15299419136LL);
    std::ofstream(dir + "/explicit.json")
        << R"({"arch_config": {"num_layers": 40, "hidden_size": 5120, "head_dim": 128,
              "num_query_groups": 8, "mm_layers": [0,1,2,3,36,37,38,39], "gelu7_layers": [0,1,2,3]}})";
    EXPECT_EQ(dit_parameter_count(dir + "/explicit.json"), 15299419136LL);
    EXPECT_EQ(with_thousands(15299419136LL), "15,299,419,136");
}

TEST(DitConfig, GoldenConfig) {
    const auto c = dit::DitConfig::from_model_dir(testing::golden("dit"));
    EXPECT_EQ(c.num_layers, 6);
    EXPECT_EQ(c.hidden_size, 128);
    EXPECT_EQ(c.num_heads_q, 4);
    EXPECT_EQ(c.num_heads_kv, 2);
    EXPECT_EQ(c.qkv_rows(), 260);
    EXPECT_EQ(c.swiglu_inner(), 340);
    EXPECT_TRUE(c.is_mm_layer(4));
    EXPECT_FALSE(c.is_mm_layer(2));
}

TEST(DitConfig, BadValuesNameTheField) {
    auto expect_error = [](const nlohmann::json& j, const std::string& needle) {
        try {
            dit::DitConfig::from_json(j);
            FAIL() << "accepted " << j.dump();
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_error({{"num_layers", "forty"}}, "num_layers");
    expect_error({{"mm_layers", {0, "x"}}}, "mm_layers");
    expect_error({{"num_layers", 2}, {"mm_layers", {0, 5}}}, "layer index 5");
    expect_error({{"hidden_size", 96}, {"head_dim", 32}, {"num_query_groups", 2}}, "num_query_groups");
    expect_error({{"head_dim", 12}}, "head_dim");
    expect_error({{"post_norm_layers", {1}}}, "post_norm_layers");
    expect_error({{"enable_attn_gating", 1}}, "enable_attn_gating");
}

}  // namespace
}  // namespace canter
