// The speech language reaches the prompt (and so the text conditioning) the way upstream's
// enhanced prompts name it: `<character description, language>: "text"` dialogue lines.
#include <ATen/ATen.h>

#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"
#include "pipeline/speech_language.h"
#include "pipeline/text_conditioning.h"
#include "test_util.h"

namespace canter {
namespace {

using pipeline::prompt_with_speech_language;

TEST(SpeechLanguagePrompt, DialogueLinesNameTheLanguage) {
    const std::string p =
        "A woman at a cafe table smiles.\n\nDialogue:\n<A young woman in a yellow coat>: \"Hello there.\"\n"
        "<An old man, German>: \"Guten Tag.\"\nA narrator: \"Later.\"\n\nBackground Sound:\n<Soft cafe chatter>";
    const std::string out = prompt_with_speech_language(p, "yue");
    EXPECT_NE(out.find("<A young woman in a yellow coat, Cantonese>: \"Hello there.\""), std::string::npos) << out;
    EXPECT_NE(out.find("<An old man, German>: \"Guten Tag.\""), std::string::npos) << out;  // already named
    EXPECT_NE(out.find("A narrator, Cantonese: \"Later.\""), std::string::npos) << out;   // no brackets
    EXPECT_NE(out.find("Background Sound:\n<Soft cafe chatter>"), std::string::npos) << out;
    EXPECT_EQ(out.find("Soft cafe chatter>, Cantonese"), std::string::npos) << out;
}

TEST(SpeechLanguagePrompt, QuotesBecomeADialogueSectionOtherwiseASentence) {
    EXPECT_EQ(prompt_with_speech_language("A man says \"bonjour\" and waves.", "fr"),
              "A man says \"bonjour\" and waves.\n\nDialogue:\nThe speaker, French: \"bonjour\"");
    EXPECT_EQ(prompt_with_speech_language("Waves on a beach.", "Japanese"),
              "Waves on a beach.\n\nThe spoken language is Japanese.");
    EXPECT_EQ(prompt_with_speech_language("Unchanged \"text\".", ""), "Unchanged \"text\".");
    EXPECT_NE(testing::error_of([] { prompt_with_speech_language("x", "tlh"); }).find("language must be one of"),
              std::string::npos);
}

TEST(SpeechLanguagePrompt, TextConditioningDiffersBetweenLanguages) {
    if (!t5gemma::Tokenizer::available()) CANTER_SKIP_OPTIONAL("built without SentencePiece");
    const auto tok = t5gemma::Tokenizer::load(testing::golden("t5gemma"));
    const auto enc = t5gemma::T5GemmaEncoder::load(testing::golden("t5gemma"), t5gemma::T5GemmaOptions{});
    const std::string prompt = "A woman smiles and says: \"Hello from canter.\"";
    auto encode = [&](const std::string& language) {
        return pipeline::encode_prompt(enc, tok, prompt_with_speech_language(prompt, language), 64).context;
    };
    const at::Tensor en = encode("en"), en_again = encode("en"), yue = encode("yue");
    EXPECT_TRUE(at::equal(en, en_again));  // deterministic
    EXPECT_GT((en - yue).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace canter
