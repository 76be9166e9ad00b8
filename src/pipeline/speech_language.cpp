#include "pipeline/speech_language.h"

#include <algorithm>
#include <cctype>

#include "util/check.h"

namespace canter::pipeline {

const std::vector<SpeechLanguage>& speech_languages() {
    static const std::vector<SpeechLanguage> kLanguages = {
        {"zh", "Mandarin"}, {"yue", "Cantonese"}, {"en", "English"}, {"ja", "Japanese"},
        {"ko", "Korean"},   {"de", "German"},     {"fr", "French"},
    };
    return kLanguages;
}

const SpeechLanguage& parse_speech_language(const std::string& s) {
    auto lower = [](std::string x) {
        std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return std::tolower(c); });
        return x;
    };
    const std::string l = lower(s);
    std::string choices;
    for (const auto& lang : speech_languages()) {
        if (l == lang.code || l == lower(lang.name)) return lang;
        choices += (choices.empty() ? "" : ", ") + std::string(lang.code) + " (" + lang.name + ")";
    }
    CANTER_THROW(InvalidArgument, "language must be one of " << choices << ", got '" << s << "'");
}

}  // namespace canter::pipeline
