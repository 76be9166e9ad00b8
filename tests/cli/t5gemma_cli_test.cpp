// `canter conform text-encoder` and `canter conform tokenizer` through the binary.
#include "io/safetensors.h"
#include "models/t5gemma/tokenizer.h"
#include "test_util.h"

namespace canter {
namespace {

const std::string kCanter = testing::canter_binary();

int run(const std::string& args, std::string* out) { return testing::run_command(kCanter + " " + args, out); }

// Rows of x [B, N, H] whose mask [B, N] is 1.
at::Tensor valid_rows(const at::Tensor& x, const at::Tensor& mask) {
    return x.reshape({-1, x.size(-1)}).index({mask.reshape({-1}) != 0});
}

TEST(CliT5Gemma, ConformTextEncoderWritesReferenceNames) {
    const std::string out_path = testing::temp_dir("cli-t5g") + "/out.safetensors";
    std::string out;
    for (const std::string precision : {"fp32", "bf16"}) {
        for (const std::string name : {"prompt", "padded_batch"}) {
            const std::string case_path = testing::golden("t5gemma/case_" + name + ".safetensors");
            ASSERT_EQ(run("conform text-encoder --model " + testing::golden("t5gemma") + " --case " + case_path +
                              " --out " + out_path + " --precision " + precision,
                          &out),
                      0)
                << out;
            auto got = io::SafetensorsFile::open(out_path);
            auto ref = io::SafetensorsFile::open(case_path);
            const std::string v = precision == "fp32" ? "fp32." : "native.";
            const double tol = precision == "fp32" ? 1e-5 : 0.1;
            const at::Tensor mask = ref->tensor("input.attention_mask");
            // Layer outputs of the bf16 residual stream are checked in T5GemmaGolden (with a
            // per-layer bound); here the encoder output and the embedding.
            for (const std::string t : {"last_hidden_state", "embed_out"})
                EXPECT_TRUE(testing::near(valid_rows(got->tensor(t), mask), valid_rows(ref->tensor(v + t), mask), tol,
                                          precision + " " + name + " " + t));
            for (int i = 0; i < 4; ++i) EXPECT_TRUE(got->contains("layer_out." + std::to_string(i)));
            EXPECT_EQ(got->contains("context"), name == "prompt");
            if (name == "prompt") {
                EXPECT_TRUE(testing::near(got->tensor("context"), ref->tensor(v + "context"),
                                          precision == "fp32" ? 1e-5 + 2e-3 : tol, precision + " context"));
                EXPECT_TRUE(at::equal(got->tensor("context_len"), ref->tensor(v + "context_len")));
            }
        }
    }
}

TEST(CliT5Gemma, ConformTokenizer) {
    const std::string out_path = testing::temp_dir("cli-tok") + "/out.safetensors";
    const std::string case_path = testing::golden("t5gemma/case_tokenizer.safetensors");
    std::string out;
    const int rc = run("conform tokenizer --model " + testing::golden("t5gemma") + " --case " + case_path + " --out " +
                           out_path,
                       &out);
    if (!t5gemma::Tokenizer::available()) {
        EXPECT_NE(rc, 0);
        EXPECT_NE(out.find("SentencePiece"), std::string::npos) << out;
        return;
    }
    ASSERT_EQ(rc, 0) << out;
    auto got = io::SafetensorsFile::open(out_path);
    auto ref = io::SafetensorsFile::open(case_path);
    for (int i = 0; i < 8; ++i) {
        const std::string t = "tokens." + std::to_string(i);
        EXPECT_TRUE(at::equal(got->tensor(t), ref->tensor(t))) << t;
    }
}

}  // namespace
}  // namespace canter
