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

namespace {

bool ends_with_language(const std::string& speaker) {
    for (const auto& lang : speech_languages()) {
        const std::string name = lang.name;
        if (speaker.size() >= name.size() && speaker.compare(speaker.size() - name.size(), name.size(), name) == 0)
            return true;
    }
    return false;
}

}  // namespace

std::string prompt_with_speech_language(const std::string& prompt, const std::string& language) {
    if (language.empty()) return prompt;
    const std::string name = parse_speech_language(language).name;
    const size_t section = prompt.find("Dialogue:");
    if (section != std::string::npos) {
        // Rewrite the section's lines up to the next blank line or "Background Sound:".
        std::string out = prompt.substr(0, section);
        size_t pos = section;
        bool header = true;
        while (pos < prompt.size()) {
            const size_t end = prompt.find('\n', pos);
            std::string line = prompt.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            const bool stop = !header && (line.find_first_not_of(" \t\r") == std::string::npos ||
                                          line.rfind("Background Sound:", 0) == 0);
            if (stop) {
                out += prompt.substr(pos);
                return out;
            }
            const size_t colon = line.find(": \"");
            if (!header && colon != std::string::npos) {
                // `<description, Language>`: the language goes inside the angle brackets.
                const size_t at = colon > 0 && line[colon - 1] == '>' ? colon - 1 : colon;
                if (!ends_with_language(line.substr(0, at))) line.insert(at, ", " + name);
            }
            out += line;
            if (end == std::string::npos) break;
            out += '\n';
            pos = end + 1;
            header = false;
        }
        return out;
    }
    std::string quotes;
    for (size_t open = prompt.find('"'); open != std::string::npos;) {
        const size_t close = prompt.find('"', open + 1);
        if (close == std::string::npos) break;
        quotes += "\nThe speaker, " + name + ": " + prompt.substr(open, close - open + 1);
        open = prompt.find('"', close + 1);
    }
    if (!quotes.empty()) return prompt + "\n\nDialogue:" + quotes;
    return prompt + "\n\nThe spoken language is " + name + ".";
}

}  // namespace canter::pipeline
