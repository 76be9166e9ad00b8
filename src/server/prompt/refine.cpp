#include "server/prompt/refine.h"

#include <httplib.h>

#include "server/api_error.h"
#include "server/request_json.h"

namespace canter::server {
namespace {

using nlohmann::json;

std::string field(const json& body, const char* name, size_t max = 2000) {
    if (!body.contains(name) || body[name].is_null()) return "";
    if (!body[name].is_string()) throw ApiError(422, "invalid_field", std::string(name) + ": must be a string", name);
    std::string v = body[name];
    if (v.size() > max) throw ApiError(422, "invalid_field", std::string(name) + ": too long", name);
    return v;
}

std::string trim(const std::string& s, const char* strip_end = " \t\r\n") {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    const auto e = s.find_last_not_of(strip_end);
    return e < b ? "" : s.substr(b, e - b + 1);
}
// Sections are joined with ". ": drop their own final period.
std::string section(const std::string& s) { return trim(s, " \t\r\n."); }

const char* language_name(const std::string& code) {
    if (code == "zh") return "Mandarin";
    if (code == "yue") return "Cantonese";
    if (code == "ja") return "Japanese";
    if (code == "ko") return "Korean";
    if (code == "de") return "German";
    if (code == "fr") return "French";
    return "English";
}

bool contains_any(const std::string& text, std::initializer_list<const char*> words) {
    std::string lower;
    for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (const char* w : words)
        if (lower.find(w) != std::string::npos) return true;
    return false;
}

}  // namespace

RefineInput parse_refine_json(const json& body) {
    RefineInput in;
    in.idea = section(field(body, "idea", kMaxPromptChars));
    if (in.idea.empty()) in.idea = section(field(body, "prompt", kMaxPromptChars));
    if (in.idea.empty()) throw ApiError(422, "invalid_field", "idea: is required (a loose description)", "idea");
    in.subject = section(field(body, "subject"));
    in.action = section(field(body, "action"));
    in.camera = section(field(body, "camera"));
    in.scene = section(field(body, "scene"));
    in.sound = section(field(body, "sound"));
    in.style = section(field(body, "style"));
    const std::string lang = field(body, "language", 40);
    in.language = lang.empty() ? "en" : language_code(lang);
    if (in.language.empty()) throw ApiError(422, "invalid_field", "language: unknown language '" + lang + "'", "language");
    if (body.contains("dialogue") && !body["dialogue"].is_null()) {
        if (!body["dialogue"].is_array()) throw ApiError(422, "invalid_field", "dialogue: must be an array", "dialogue");
        if (body["dialogue"].size() > 20) throw ApiError(422, "invalid_field", "dialogue: at most 20 lines", "dialogue");
        for (const auto& d : body["dialogue"]) {
            if (!d.is_object()) throw ApiError(422, "invalid_field", "dialogue: items must be objects", "dialogue");
            DialogueLine line;
            line.speaker = trim(field(d, "speaker", 200));
            line.text = trim(field(d, "text", 1000));
            if (line.text.empty()) line.text = trim(field(d, "line", 1000));
            if (line.text.empty()) throw ApiError(422, "invalid_field", "dialogue: each line needs text", "dialogue");
            const std::string l = field(d, "language", 40);
            line.language = l.empty() ? in.language : language_code(l);
            if (line.language.empty()) throw ApiError(422, "invalid_field", "dialogue: unknown language '" + l + "'", "dialogue");
            in.dialogue.push_back(line);
        }
    }
    return in;
}

RefineOutput build_prompt(const RefineInput& in) {
    const std::string& idea = in.idea;
    json s;
    s["subject"] = !in.subject.empty() ? in.subject : idea;
    s["action"] = !in.action.empty() ? in.action
                  : !in.dialogue.empty() ? "speaks to the camera with natural lip movement and expressive gestures"
                                         : "moves naturally, the motion smooth and continuous";
    s["camera"] = !in.camera.empty() ? in.camera
                  : contains_any(idea, {"close", "face", "portrait"}) ? "close-up, eye level, shallow depth of field, gentle handheld"
                  : contains_any(idea, {"landscape", "city", "mountain", "ocean", "street"}) ? "wide shot, slow dolly forward"
                  : "medium shot, eye level, slow push-in";
    s["scene"] = !in.scene.empty() ? in.scene : "consistent with: " + idea + "; soft natural light, realistic detail";
    s["sound"] = !in.sound.empty() ? in.sound
                 : !in.dialogue.empty() ? "clear close-miked voice, quiet room tone matching the scene"
                                        : "natural ambient sound matching the scene";
    s["style"] = !in.style.empty() ? in.style : "photorealistic, cinematic";
    json dialogue = json::array();
    for (const auto& d : in.dialogue)
        dialogue.push_back({{"speaker", d.speaker.empty() ? "Speaker" : d.speaker}, {"text", d.text},
                            {"language", d.language}});
    s["dialogue"] = dialogue;

    std::string p = s["subject"].get<std::string>() + ". ";
    p += "Action: " + s["action"].get<std::string>() + ". ";
    p += "Camera: " + s["camera"].get<std::string>() + ". ";
    p += "Scene: " + s["scene"].get<std::string>() + ". ";
    p += "Style: " + s["style"].get<std::string>() + ". ";
    p += "Sound: " + s["sound"].get<std::string>() + ".";
    for (const auto& d : dialogue)
        p += "\n" + d["speaker"].get<std::string>() + " (" + language_name(d["language"]) + "): \"" +
             d["text"].get<std::string>() + "\"";
    return {p, s, "builder", ""};
}

RefineOutput refine_with_llm(const RefineInput& input, const ChatEndpoint& ep) {
    RefineOutput base = build_prompt(input);
    // base_url "http://host:port/v1" -> client "http://host:port", path "/v1/chat/completions".
    const auto scheme_end = ep.base_url.find("://");
    const auto path_start = scheme_end == std::string::npos ? std::string::npos : ep.base_url.find('/', scheme_end + 3);
    const std::string origin = ep.base_url.substr(0, path_start);
    std::string path = path_start == std::string::npos ? "" : ep.base_url.substr(path_start);
    while (!path.empty() && path.back() == '/') path.pop_back();
    try {
        httplib::Client client(origin);
        client.set_connection_timeout(5);
        client.set_read_timeout(60);
        if (!ep.api_key.empty()) client.set_bearer_token_auth(ep.api_key);
        const json body = {
            {"model", ep.model},
            {"temperature", 0.3},
            {"messages",
             json::array({{{"role", "system"},
                           {"content", "You rewrite video prompts for an audio+video generation model. Keep the "
                                       "structure 'Subject. Action: ... Camera: ... Scene: ... Style: ... Sound: ...' "
                                       "followed by dialogue lines 'Speaker (Language): \"text\"' exactly as given. "
                                       "Make it vivid and concrete, under 120 words, and answer with the prompt only."}},
                          {{"role", "user"}, {"content", base.prompt}}})}};
        auto res = client.Post(path + "/chat/completions", body.dump(), "application/json");
        if (!res) throw std::runtime_error("no response (" + httplib::to_string(res.error()) + ")");
        if (res->status != 200) throw std::runtime_error("HTTP " + std::to_string(res->status));
        const json reply = json::parse(res->body);
        std::string text = reply.at("choices").at(0).at("message").at("content");
        if (trim(text).empty()) throw std::runtime_error("empty reply");
        base.prompt = trim(text);
        base.source = "llm";
    } catch (const std::exception& e) {
        base.warning = std::string("prompt model at ") + ep.base_url + " failed: " + e.what() +
                       "; returned the builder's prompt";
    }
    return base;
}

}  // namespace canter::server
