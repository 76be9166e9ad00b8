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

}  // namespace canter::pipeline
