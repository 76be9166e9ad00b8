// The T5Gemma tokenizer: golden ids, BOS/EOS flags from tokenizer_config.json, agreement with
// Debian's spm_encode on a model trained inside the test, and the deterministic demo tokenizer.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/t5gemma/tokenizer.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;
using t5gemma::Tokenizer;
using testing::error_of;
using testing::golden;

#define REQUIRE_SENTENCEPIECE()                                                    \
    if (!Tokenizer::available()) CANTER_SKIP_OPTIONAL("built without SentencePiece")

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
    const at::Tensor c = t.contiguous().to(at::kLong);
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// A copy of the golden tokenizer with another tokenizer_config.json.
std::string golden_copy_with_config(const nlohmann::json& cfg) {
    const std::string dir = testing::temp_dir("tok-cfg");
    fs::copy_file(golden("t5gemma/tokenizer.model"), dir + "/tokenizer.model");
    std::ofstream(dir + "/tokenizer_config.json") << cfg.dump();
    return dir;
}

// Without SentencePiece, loading is a clear "unsupported"; with it, the same call loads.
TEST(Tokenizer, LoadFollowsTheBuildConfiguration) {
    if (Tokenizer::available()) {
        EXPECT_EQ(error_of([] { Tokenizer::load(golden("t5gemma")); }), "");
        return;
    }
    try {
        Tokenizer::load(golden("t5gemma"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("SentencePiece"), std::string::npos) << e.what();
    }
}

TEST(Tokenizer, GoldenStringsExact) {
    REQUIRE_SENTENCEPIECE();
    const auto tok = Tokenizer::load(golden("t5gemma"));
    EXPECT_TRUE(tok.add_bos());
    EXPECT_FALSE(tok.add_eos());
    EXPECT_EQ(tok.bos_id(), 2);
    EXPECT_EQ(tok.eos_id(), 1);
    EXPECT_EQ(tok.pad_id(), 0);
    EXPECT_EQ(tok.vocab_size(), 480);
    conform::CaseFile c(golden("t5gemma/case_tokenizer.safetensors"));
    const auto strings = c.meta("strings");
    ASSERT_EQ(strings.size(), 8u);
    for (size_t i = 0; i < strings.size(); ++i) {
        const std::string s = strings[i].get<std::string>();
        EXPECT_EQ(tok.encode(s), to_vector(c.input("tokens." + std::to_string(i)))) << "string " << i << ": " << s;
        // Byte fallback makes every string round-trip.
        EXPECT_EQ(tok.decode(tok.encode(s)), s) << "string " << i;
    }
}

TEST(Tokenizer, GoldenPromptsGiveTheCaseIds) {
    REQUIRE_SENTENCEPIECE();
    const auto tok = Tokenizer::load(golden("t5gemma"));
    for (const std::string name : {"prompt", "long_prompt"}) {
        conform::CaseFile c(golden("t5gemma/case_" + name + ".safetensors"));
        EXPECT_EQ(tok.encode(c.meta("prompt").get<std::string>()), to_vector(c.input("input.input_ids")[0])) << name;
    }
}

TEST(Tokenizer, BosEosFlagsComeFromTheConfig) {
    REQUIRE_SENTENCEPIECE();
    const auto plain = Tokenizer::load(golden_copy_with_config({{"add_bos_token", false}, {"add_eos_token", false}}));
    const auto both = Tokenizer::load(golden_copy_with_config({{"add_bos_token", true}, {"add_eos_token", true}}));
    const auto eos = Tokenizer::load(golden_copy_with_config({{"add_bos_token", false}, {"add_eos_token", true}}));
    const auto defaults = Tokenizer::load(golden_copy_with_config(nlohmann::json::object()));
    const auto ids = plain.encode("A woman speaks.");
    ASSERT_FALSE(ids.empty());
    EXPECT_NE(ids.front(), 2);
    std::vector<int64_t> expect = ids;
    expect.insert(expect.begin(), 2);
    expect.push_back(1);
    EXPECT_EQ(both.encode("A woman speaks."), expect);
    expect.erase(expect.begin());
    EXPECT_EQ(eos.encode("A woman speaks."), expect);
    EXPECT_EQ(defaults.encode(""), std::vector<int64_t>{2});  // GemmaTokenizer defaults: BOS, no EOS
    EXPECT_TRUE(plain.encode("").empty());
}

TEST(Tokenizer, ErrorsNameTheFile) {
    REQUIRE_SENTENCEPIECE();
    const std::string empty = testing::temp_dir("tok-empty");
    std::string e = error_of([&] { Tokenizer::load(empty); });
    EXPECT_NE(e.find("tokenizer.model"), std::string::npos) << e;
    fs::copy_file(golden("t5gemma/tokenizer.model"), empty + "/tokenizer.model");
    e = error_of([&] { Tokenizer::load(empty); });
    EXPECT_NE(e.find("tokenizer_config.json"), std::string::npos) << e;
    std::ofstream(empty + "/tokenizer_config.json") << R"({"add_bos_token": "yes"})";
    e = error_of([&] { Tokenizer::load(empty); });
    EXPECT_NE(e.find("add_bos_token"), std::string::npos) << e;
    std::ofstream(empty + "/tokenizer_config.json") << R"({"bos_token": "<start>"})";
    e = error_of([&] { Tokenizer::load(empty); });
    EXPECT_NE(e.find("<start>"), std::string::npos) << e;
    const std::string garbage = testing::temp_dir("tok-garbage");
    std::ofstream(garbage + "/tokenizer.model") << "not a model";
    std::ofstream(garbage + "/tokenizer_config.json") << "{}";
    e = error_of([&] { Tokenizer::load(garbage); });
    EXPECT_NE(e.find("not a SentencePiece model"), std::string::npos) << e;
}

// A model trained here with Debian's spm_train; our encode must equal spm_encode's ids.
TEST(Tokenizer, AgreesWithSpmEncode) {
    REQUIRE_SENTENCEPIECE();
    std::string out;
    if (testing::run_command("command -v spm_train && command -v spm_encode", &out) != 0)
        CANTER_SKIP_OPTIONAL("spm_train / spm_encode not installed (Debian: sentencepiece)");
    const std::string dir = testing::temp_dir("tok-spm");
    {
        std::ofstream corpus(dir + "/corpus.txt");
        for (int rep = 0; rep < 3; ++rep) {
            corpus << "The quick brown fox jumps over the lazy dog near the river bank.\n"
                      "A woman speaks softly to the camera while the rain falls outside.\n"
                      "Two children play in the garden; their dog runs after a red ball.\n"
                      "Numbers like 2024 and 3.14159 appear in the text, with commas, too.\n"
                      "The old man laughs and raises his cup: cheers to the long summer!\n";
        }
    }
    const std::string train = "spm_train --input=" + dir + "/corpus.txt --model_prefix=" + dir +
                              "/tokenizer --model_type=bpe --vocab_size=400 --byte_fallback=true "
                              "--character_coverage=1.0 --normalization_rule_name=identity "
                              "--add_dummy_prefix=false --remove_extra_whitespaces=false --split_digits=true "
                              "--pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 --num_threads=1 "
                              "--hard_vocab_limit=false --minloglevel=2";
    ASSERT_EQ(testing::run_command(train, &out), 0) << out;
    std::ofstream(dir + "/tokenizer_config.json") << R"({"add_bos_token": false, "add_eos_token": false})";
    const auto tok = Tokenizer::load(dir);
    const std::vector<std::string> lines = {
        "The quick brown fox.", "  leading and  double spaces", "digits 1234567890 and 2.5",
        "unseen: xylophone zephyr", "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd", "emoji \xf0\x9f\x99\x82 end"};
    {
        std::ofstream in(dir + "/input.txt");
        for (const auto& l : lines) in << l << "\n";
    }
    ASSERT_EQ(testing::run_command("spm_encode --model=" + dir + "/tokenizer.model --output_format=id < " + dir +
                                       "/input.txt > " + dir + "/ids.txt",
                                   &out),
              0)
        << out;
    std::ifstream ids_in(dir + "/ids.txt");
    std::string line;
    size_t i = 0;
    for (; std::getline(ids_in, line); ++i) {
        ASSERT_LT(i, lines.size());
        std::istringstream is(line);
        std::vector<int64_t> expect;
        for (int64_t id; is >> id;) expect.push_back(id);
        EXPECT_EQ(tok.encode(lines[i]), expect) << "line " << i << ": " << lines[i];
    }
    EXPECT_EQ(i, lines.size());
}

TEST(Tokenizer, DemoTokenizerIsDeterministicWithGemmaLayout) {
    REQUIRE_SENTENCEPIECE();
    const std::string a = testing::temp_dir("tok-demo-a"), b = testing::temp_dir("tok-demo-b");
    t5gemma::write_demo_tokenizer(a);
    t5gemma::write_demo_tokenizer(b);
    for (const std::string f : {"tokenizer.model", "tokenizer_config.json"}) {
        const std::string x = read_bytes(a + "/" + f), y = read_bytes(b + "/" + f);
        EXPECT_FALSE(x.empty()) << f;
        EXPECT_TRUE(x == y) << f << " differs between two runs";
    }
    const auto tok = Tokenizer::load(a);
    EXPECT_EQ(tok.vocab_size(), 512);
    EXPECT_EQ(tok.pad_id(), 0);
    EXPECT_EQ(tok.eos_id(), 1);
    EXPECT_EQ(tok.bos_id(), 2);
    EXPECT_TRUE(tok.add_bos());
    EXPECT_FALSE(tok.add_eos());
    // <unk> 3, <mask> 4, then the 256 byte pieces: a character absent from the corpus falls
    // back to its UTF-8 bytes, <0xE4> = 5 + 0xE4.
    const auto ids = tok.encode("\xe4\xbd\xa0");  // U+4F60
    EXPECT_EQ(ids, (std::vector<int64_t>{2, 5 + 0xE4, 5 + 0xBD, 5 + 0xA0}));
    for (const std::string s : {"A woman speaks to the camera.", "  two  spaces\tand 12345", "emoji \xf0\x9f\x99\x82"})
        EXPECT_EQ(tok.decode(tok.encode(s)), s);
    EXPECT_LT(tok.encode("A woman speaks to the camera.").size(), 12u);  // merges were learned
}

}  // namespace
}  // namespace canter
