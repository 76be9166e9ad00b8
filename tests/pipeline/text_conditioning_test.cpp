// Text conditioning: pad/trim semantics, the golden prompt cases end to end (tokenizer +
// encoder + fp16 + pad/trim), empty and over-long prompts.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"
#include "pipeline/text_conditioning.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::error_of;
using testing::golden;
using testing::near;

TEST(TextCond, PadOrTrimContext) {
    const at::Tensor x = at::randn({1, 10, 6}, at::make_generator<at::CPUGeneratorImpl>(2)) * 3;
    auto p = pipeline::pad_or_trim_context(x, 16);
    EXPECT_EQ(p.context.sizes(), (std::vector<int64_t>{1, 16, 6}));
    EXPECT_EQ(p.length, 10);
    EXPECT_EQ(p.token_count, 10);
    EXPECT_FALSE(p.truncated);
    EXPECT_TRUE(at::equal(p.context.narrow(1, 0, 10), x.to(at::kHalf).to(at::kFloat)));
    EXPECT_EQ(p.context.narrow(1, 10, 6).abs().max().item<double>(), 0.0);
    EXPECT_EQ(p.context.scalar_type(), at::kFloat);

    const at::Tensor y = at::randn({1, 20, 6}, at::make_generator<at::CPUGeneratorImpl>(3));
    p = pipeline::pad_or_trim_context(y, 16);
    EXPECT_EQ(p.context.sizes(), (std::vector<int64_t>{1, 16, 6}));
    EXPECT_EQ(p.length, 16);
    EXPECT_EQ(p.token_count, 20);
    EXPECT_TRUE(p.truncated);
    EXPECT_TRUE(at::equal(p.context, y.narrow(1, 0, 16).to(at::kHalf).to(at::kFloat)));

    p = pipeline::pad_or_trim_context(y, 20);  // exactly the target: kept whole, not truncated
    EXPECT_EQ(p.length, 20);
    EXPECT_FALSE(p.truncated);

    EXPECT_NE(error_of([&] { pipeline::pad_or_trim_context(y, 0); }).find("target length"), std::string::npos);
    EXPECT_NE(error_of([&] { pipeline::pad_or_trim_context(at::zeros({2, 3, 4}), 8); }).find("[1, N, D]"),
              std::string::npos);
}

TEST(TextCond, GoldenPromptsEndToEnd) {
    if (!t5gemma::Tokenizer::available()) CANTER_SKIP_OPTIONAL("built without SentencePiece");
    const auto tok = t5gemma::Tokenizer::load(golden("t5gemma"));
    const auto enc = t5gemma::T5GemmaEncoder::load(golden("t5gemma"), t5gemma::T5GemmaOptions{});
    for (const std::string name : {"prompt", "long_prompt"}) {
        conform::CaseFile c(golden("t5gemma/case_" + name + ".safetensors"));
        auto ref = io::SafetensorsFile::open(c.path());
        const int64_t target = c.meta("target_length").get<int64_t>();
        const auto p = pipeline::encode_prompt(enc, tok, c.meta("prompt").get<std::string>(), target);
        // fp32 1e-5, plus one fp16 ulp (<= 2e-3 here) where the rounding straddles a boundary.
        EXPECT_TRUE(near(p.context, ref->tensor("fp32.context"), 1e-5 + 2e-3, name + " context"));
        EXPECT_EQ(p.length, ref->tensor("fp32.context_len").item<int64_t>());
        EXPECT_EQ(p.token_count, c.input("input.input_ids").size(1));
        EXPECT_EQ(p.truncated, p.token_count > target);
    }
}

TEST(TextCond, EmptyAndHugePrompts) {
    if (!t5gemma::Tokenizer::available()) CANTER_SKIP_OPTIONAL("built without SentencePiece");
    const auto tok = t5gemma::Tokenizer::load(golden("t5gemma"));
    const auto enc = t5gemma::T5GemmaEncoder::load(golden("t5gemma"), t5gemma::T5GemmaOptions{});
    // Empty prompt: just <bos>, one real row, the rest zeros.
    auto p = pipeline::encode_prompt(enc, tok, "", 32);
    EXPECT_EQ(p.token_count, 1);
    EXPECT_EQ(p.length, 1);
    EXPECT_FALSE(p.truncated);
    EXPECT_GT(p.context[0][0].abs().max().item<double>(), 0.0);
    EXPECT_EQ(p.context.narrow(1, 1, 31).abs().max().item<double>(), 0.0);
    // A prompt far longer than the target: encoded whole, then cut; the kept rows are those of
    // the whole-sequence encoding (not of an encoding of the first 32 tokens).
    std::string huge;
    for (int i = 0; i < 60; ++i) huge += "The old man laughs and raises his cup of tea. ";
    p = pipeline::encode_prompt(enc, tok, huge, 32);
    const auto ids = tok.encode(huge);
    EXPECT_EQ(p.token_count, static_cast<int64_t>(ids.size()));
    EXPECT_GT(p.token_count, 300);
    EXPECT_EQ(p.length, 32);
    EXPECT_TRUE(p.truncated);
    const at::Tensor id_tensor = at::tensor(ids, at::kLong).view({1, -1});
    const at::Tensor whole = enc.forward(id_tensor, at::ones_like(id_tensor));
    EXPECT_TRUE(at::equal(p.context, whole.narrow(1, 0, 32).to(at::kHalf).to(at::kFloat)));
    // A tokenizer that adds nothing turns "" into no tokens at all: a clear error.
    const std::string dir = testing::temp_dir("tc-nobos");
    std::filesystem::copy_file(golden("t5gemma/tokenizer.model"), dir + "/tokenizer.model");
    std::ofstream(dir + "/tokenizer_config.json") << R"({"add_bos_token": false})";
    const auto bare = t5gemma::Tokenizer::load(dir);
    EXPECT_NE(error_of([&] { pipeline::encode_prompt(enc, bare, "", 32); }).find("no tokens"), std::string::npos);
    EXPECT_NE(error_of([&] { pipeline::encode_prompt(enc, tok, "x", 0); }).find("target length"), std::string::npos);
}

}  // namespace
}  // namespace canter
