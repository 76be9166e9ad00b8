// The canter binary end to end: conform, inspect, demo and their error paths.
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "test_util.h"

namespace canter {
namespace {

const std::string kCanter = testing::canter_binary();

int run(const std::string& args, std::string* out) { return testing::run_command(kCanter + " " + args, out); }

TEST(Cli, ConformDitWritesReferenceNames) {
    const std::string dir = testing::temp_dir("cli");
    const std::string out_path = dir + "/out.safetensors";
    std::string out;
    for (std::string precision : {"fp32", "bf16"}) {
        ASSERT_EQ(run("conform dit --model " + testing::golden("dit") + " --case " +
                          testing::golden("dit/case_ti2v.safetensors") + " --out " + out_path +
                          " --precision " + precision, &out), 0) << out;
        auto got = io::SafetensorsFile::open(out_path);
        auto ref = io::SafetensorsFile::open(testing::golden("dit/case_ti2v.safetensors"));
        const std::string prefix = precision == "fp32" ? "fp32." : "native.";
        const double tol = precision == "fp32" ? 2e-5 : 5e-2;
        for (const std::string name : {"video_out", "audio_out", "raw_out", "adapter_out", "rope"})
            EXPECT_TRUE(testing::near(got->tensor(name), ref->tensor(prefix + name), tol, precision + " " + name));
        for (const std::string name : {"packed.x", "packed.coords_mapping", "packed.modality_mapping",
                                       "packed.local_q_ranges", "packed.local_k_ranges", "packed.cu_seqlens"})
            EXPECT_TRUE(at::equal(got->tensor(name), ref->tensor(name))) << name;
        EXPECT_TRUE(got->contains("layer_out.5"));
    }
}

TEST(Cli, InspectListsTensorsAndCountsParameters) {
    std::string out;
    ASSERT_EQ(run("inspect " + testing::golden("dit"), &out), 0) << out;
    EXPECT_NE(out.find("block.layers.0.attention.linear_qkv.weight"), std::string::npos) << out;
    EXPECT_NE(out.find("BF16"), std::string::npos);
    EXPECT_NE(out.find("[780, 128]"), std::string::npos);
    EXPECT_NE(out.find("DiT: 6 layers"), std::string::npos) << out;
    const std::string dir = testing::temp_dir("cli-inspect");
    std::ofstream(dir + "/real.json") << R"({"arch_config": {}})";
    ASSERT_EQ(run("inspect " + dir + "/real.json", &out), 0) << out;
    EXPECT_NE(out.find("parameters: 15,299,419,136"), std::string::npos) << out;
}

TEST(Cli, ErrorsAreClearWithNonZeroExit) {
    const std::string dir = testing::temp_dir("cli-err");
    std::string out;
    EXPECT_EQ(run("conform dit --case x --out y", &out), 2);
    EXPECT_NE(out.find("--model is required"), std::string::npos) << out;
    EXPECT_EQ(run("conform dit --model " + testing::golden("dit") + " --case " + dir + "/nope.safetensors --out " +
                      dir + "/o.safetensors", &out), 3);
    EXPECT_NE(out.find("nope.safetensors"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(dir + "/o.safetensors"));
    EXPECT_EQ(run("conform dit --model " + testing::golden("dit") + " --case " +
                      testing::golden("dit/case_t2v.safetensors") + " --out " + dir + "/o.safetensors --precision fp8",
                  &out), 2);
    EXPECT_NE(out.find("fp8"), std::string::npos) << out;
    EXPECT_EQ(run("conform dance --model a --case b --out c", &out), 2);
    EXPECT_NE(out.find("unknown conformance kind 'dance'"), std::string::npos) << out;
    EXPECT_EQ(run("conform dit --model " + testing::golden("dit") + " --bogus 1", &out), 2);
    EXPECT_NE(out.find("unknown option --bogus"), std::string::npos) << out;
    EXPECT_EQ(run("inspect " + dir + "/missing", &out), 3);
    EXPECT_NE(out.find("missing"), std::string::npos) << out;
    EXPECT_NE(run("frobnicate", &out), 0);
}

TEST(Cli, DemoRunsARealForward) {
    std::string out;
    ASSERT_EQ(run("demo --seconds 1", &out), 0) << out;
    EXPECT_NE(out.find("packed sequence: 784 video + 26 audio + 32 text = 842 tokens"), std::string::npos) << out;
    EXPECT_NE(out.find("bf16 vs fp32 max abs difference"), std::string::npos) << out;
    EXPECT_EQ(run("demo --seconds 0", &out), 2);
}

}  // namespace
}  // namespace canter

namespace canter {
namespace {

// `canter CMD --help` (or -h) prints that command's usage block and exits 0, for every command.
TEST(Cli, EveryCommandHasHelp) {
    for (const char* cmd : {"generate", "make-demo-model", "demo", "conform", "inspect", "serve", "keys", "version"}) {
        std::string out;
        const int rc = testing::run_command(testing::canter_binary() + " " + cmd + " --help", &out);
        EXPECT_EQ(rc, 0) << cmd << ": " << out;
        EXPECT_NE(out.find(std::string("usage: canter ") + cmd), std::string::npos) << out;
        EXPECT_NE(out.find(std::string("  ") + cmd + " "), std::string::npos) << out;
    }
    std::string out;  // -h anywhere among the flags works the same
    EXPECT_EQ(testing::run_command(testing::canter_binary() + " keys list -h", &out), 0) << out;
    EXPECT_NE(out.find("usage: canter keys"), std::string::npos) << out;
}

#ifdef CANTER_HAVE_SERVER
// The first command docs/server.md shows works on a folder that does not exist yet.
TEST(Cli, KeysCreateMakesTheDataFolder) {
    const std::string data = testing::temp_dir("keys-new") + "/not/yet/there";
    std::string out;
    ASSERT_EQ(testing::run_command(testing::canter_binary() + " keys create --name first --data " + data, &out), 0) << out;
    EXPECT_TRUE(std::filesystem::exists(data + "/canter.db")) << out;
    EXPECT_NE(out.find("created user key"), std::string::npos) << out;
    // list and revoke never create anything: a wrong folder stays an error.
    EXPECT_NE(testing::run_command(testing::canter_binary() + " keys list --data " + data + "-typo", &out), 0) << out;
    EXPECT_FALSE(std::filesystem::exists(data + "-typo"));
}
#endif

}  // namespace
}  // namespace canter
