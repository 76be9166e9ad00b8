// The seven speech languages the model was trained on, by code and English name.
#pragma once

#include <string>
#include <vector>

namespace canter::pipeline {

struct SpeechLanguage {
    const char* code;  // "en", "zh", "yue", "ja", "ko", "de", "fr"
    const char* name;  // "English", "Mandarin", "Cantonese", ...
};

const std::vector<SpeechLanguage>& speech_languages();
// Accepts a code or a name (case-insensitive); throws kInvalidArgument listing the choices.
const SpeechLanguage& parse_speech_language(const std::string& s);

// Puts the chosen speech language into the prompt the way upstream's enhanced prompts name it
// (spec/pipeline.md §4.4: dialogue lines `<character description, language>: "text"`), so the
// choice reaches the text conditioning:
// * a `Dialogue:` section: every line `SPEAKER: "text"` whose SPEAKER does not already end in a
//   language name gets ", <Language>" (inside the angle brackets of `<description>`);
// * no such section but quoted speech: a `Dialogue:` section is appended with one
//   `The speaker, <Language>: "text"` line per quote;
// * neither: "The spoken language is <Language>." is appended.
// An empty `language` returns the prompt unchanged.
std::string prompt_with_speech_language(const std::string& prompt, const std::string& language);

}  // namespace canter::pipeline
