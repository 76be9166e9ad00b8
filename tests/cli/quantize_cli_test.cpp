// `canter quantize` and `canter inspect` of its output, through the built binary.
#include <filesystem>
#include <fstream>

#include "canter/engine.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;

int run(const std::string& args, std::string* out) {
    return testing::run_command(testing::canter_binary() + " " + args, out);
}

TEST(QuantizeCli, QuantizesTheDemoModelAndInspectShowsTheFormat) {
    const std::string dir = testing::temp_dir("quant-cli");
    make_demo_model(dir + "/model");
    std::string out;
    ASSERT_EQ(run("quantize --model " + dir + "/model --out " + dir + "/fp8 --format fp8", &out), 0) << out;
    EXPECT_NE(out.find("dit.distill"), std::string::npos) << out;
    EXPECT_NE(out.find("14 block matrices fp8"), std::string::npos) << out;  // the text encoder
    EXPECT_NE(out.find("wrote " + fs::weakly_canonical(dir + "/fp8").string()), std::string::npos) << out;
    ASSERT_EQ(run("inspect " + dir + "/fp8", &out), 0) << out;
    EXPECT_NE(out.find("weights: fp8 e4m3 per-channel (16 block matrices), fp32 otherwise"), std::string::npos) << out;
    EXPECT_NE(out.find("text_encoder weights: fp8 e4m3 per-channel (14 block matrices), bf16 otherwise"),
              std::string::npos) << out;
    EXPECT_NE(out.find("quantization: fp8"), std::string::npos) << out;
    ASSERT_EQ(run("inspect " + dir + "/fp8/dit/distill/model.safetensors", &out), 0) << out;
    EXPECT_NE(out.find("block.layers.0.attention.linear_qkv.weight_scale"), std::string::npos) << out;
    EXPECT_NE(out.find("F8_E4M3"), std::string::npos) << out;
    ASSERT_EQ(run("inspect " + dir + "/model/dit/distill", &out), 0) << out;
    EXPECT_NE(out.find("weights: not quantized: fp32 (43 tensors)"), std::string::npos) << out;
}

TEST(QuantizeCli, HelpAndErrors) {
    const std::string dir = testing::temp_dir("quant-cli-err");
    std::string out;
    ASSERT_EQ(run("quantize --help", &out), 0) << out;
    EXPECT_NE(out.find("usage: canter quantize"), std::string::npos) << out;
    EXPECT_NE(out.find("--format int8|fp8"), std::string::npos) << out;
    EXPECT_EQ(run("quantize --model " + dir + " --format int8", &out), 2);
    EXPECT_NE(out.find("--out is required"), std::string::npos) << out;
    EXPECT_EQ(run("quantize --model " + dir + " --out " + dir + "/o --format int4", &out), 2);
    EXPECT_NE(out.find("--format must be int8 or fp8, got 'int4'"), std::string::npos) << out;
    EXPECT_EQ(run("quantize --model " + dir + "/missing --out " + dir + "/o --format int8", &out), 3);
    EXPECT_NE(out.find(dir + "/missing"), std::string::npos) << out;
    std::ofstream(dir + "/stray.txt") << "x";
    EXPECT_EQ(run("quantize --model " + dir + " --out " + dir + "/o --format int8", &out), 2);
    EXPECT_NE(out.find("is not a model folder"), std::string::npos) << out;
    make_demo_model(dir + "/model");
    fs::create_directories(dir + "/busy");
    std::ofstream(dir + "/busy/x") << "x";
    EXPECT_EQ(run("quantize --model " + dir + "/model --out " + dir + "/busy --format int8", &out), 2);
    EXPECT_NE(out.find(dir + "/busy exists and is not empty"), std::string::npos) << out;
}

}  // namespace
}  // namespace canter
