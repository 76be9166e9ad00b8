// `canter make-test-model` and `--model random:...` as a user runs them: the tiny preset
// written, inspected and generated from, the in-memory twin giving the same video, and the
// error paths.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/media/media_probe.h"
#include "models/t5gemma/tokenizer.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;
const std::string kCanter = testing::canter_binary();

int run(const std::string& args, std::string* out) { return testing::run_command(kCanter + " " + args, out); }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CliMakeTestModel, TinyModelGeneratesAndRandomTwinMatches) {
    if (!t5gemma::Tokenizer::available()) CANTER_SKIP_OPTIONAL("no SentencePiece in this build");
    const std::string root = testing::temp_dir("cli-test-model");
    std::string out;
    ASSERT_EQ(run("make-test-model --preset tiny --seed 9 --out " + root + "/m", &out), 0) << out;
    EXPECT_NE(out.find("canter:   wrote distill/model.safetensors"), std::string::npos) << out;  // progress
    EXPECT_NE(out.find("total"), std::string::npos) << out;
    ASSERT_EQ(run("inspect " + root + "/m", &out), 0) << out;
    EXPECT_NE(out.find("tiny-random"), std::string::npos) << out;
    const std::string gen = " generate --prompt 'a dog barks' --seconds 1 --resolution 256p --steps 2 --seed 1 ";
    ASSERT_EQ(run(gen + "--model " + root + "/m --out " + root + "/disk.mp4", &out), 0) << out;
    const auto m = media::probe_media(root + "/disk.mp4");
    EXPECT_GT(m.video_frames, 0);
    EXPECT_TRUE(m.has_audio);
    // The same model built in memory: the same weights, hence the same clip, byte for byte.
    ASSERT_EQ(run(gen + "--model random:tiny:seed=9 --out " + root + "/mem.mp4", &out), 0) << out;
    EXPECT_EQ(slurp(root + "/mem.mp4"), slurp(root + "/disk.mp4"));
    // Another seed is another model.
    ASSERT_EQ(run(gen + "--model random:tiny:seed=10 --out " + root + "/other.mp4", &out), 0) << out;
    EXPECT_NE(slurp(root + "/other.mp4"), slurp(root + "/disk.mp4"));
}

TEST(CliMakeTestModel, DryRunAndErrorsNameTheValue) {
    const std::string root = testing::temp_dir("cli-test-model-err");
    std::string out;
    ASSERT_EQ(run("make-test-model --dry-run --with-sr 540p", &out), 0) << out;
    EXPECT_NE(out.find("15299419136"), std::string::npos) << out;
    EXPECT_NE(out.find("540p_sr"), std::string::npos) << out;
    EXPECT_TRUE(fs::is_empty(root));
    EXPECT_EQ(run("make-test-model --out " + root + "/a --format fp16", &out), 2);
    EXPECT_NE(out.find("'fp16'"), std::string::npos) << out;
    EXPECT_EQ(run("make-test-model --out " + root + "/a --seed -3", &out), 2);
    EXPECT_NE(out.find("--seed must be a non-negative integer, got '-3'"), std::string::npos) << out;
    EXPECT_EQ(run("make-test-model --out " + root + "/a --preset huge", &out), 2);
    EXPECT_NE(out.find("'huge'"), std::string::npos) << out;
    EXPECT_EQ(run("make-test-model --preset tiny", &out), 2);
    EXPECT_NE(out.find("--out is required"), std::string::npos) << out;
    std::ofstream(root + "/full.txt") << "x";
    EXPECT_EQ(run("make-test-model --preset tiny --out " + root, &out), 2);
    EXPECT_NE(out.find("not empty"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(root + "/a"));
    EXPECT_EQ(run("generate --prompt x --model random:tiny:seed=abc --out " + root + "/x.mp4", &out), 2);
    EXPECT_NE(out.find("'abc'"), std::string::npos) << out;
    EXPECT_EQ(run("generate --prompt x --model random:nope --out " + root + "/x.mp4", &out), 2);
    EXPECT_NE(out.find("'nope'"), std::string::npos) << out;
}

}  // namespace
}  // namespace canter
