#include "server/request_json.h"

#include <random>

#include "canter/error.h"
#include "server/api_error.h"

namespace canter::server {
namespace {

using nlohmann::json;

const std::vector<std::string> kAspectRatios = {"16:9", "9:16", "1:1", "4:3", "3:4"};
const std::vector<std::string> kResolutions = {"256p", "540p", "1080p"};
const std::vector<std::string> kLanguages = {"en", "zh", "yue", "ja", "ko", "de", "fr"};

[[noreturn]] void bad(const std::string& param, const std::string& message) {
    throw ApiError(422, "invalid_field", param + ": " + message, param);
}

std::string get_string(const json& body, const char* name, const std::string& fallback) {
    if (!body.contains(name) || body[name].is_null()) return fallback;
    if (!body[name].is_string()) bad(name, "must be a string");
    return body[name].get<std::string>();
}

bool one_of(const std::string& v, const std::vector<std::string>& allowed) {
    for (const auto& a : allowed)
        if (a == v) return true;
    return false;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// 5, "5", "5s" -> 5.
int get_seconds(const json& v, const char* name) {
    if (v.is_number_integer()) return v.get<int>();
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (d != static_cast<int>(d)) bad(name, "must be a whole number of seconds");
        return static_cast<int>(d);
    }
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (!s.empty() && s.back() == 's') s.pop_back();
        if (!s.empty() && s.size() <= 3 && s.find_first_not_of("0123456789") == std::string::npos)
            return std::stoi(s);
    }
    bad(name, "must be an integer number of seconds");
}

std::string base64_decode(const std::string& in, const std::string& param) {
    static int table[256];
    static bool init = false;
    if (!init) {
        for (int& t : table) t = -1;
        const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int k = 0; k < 64; ++k) table[static_cast<unsigned char>(a[k])] = k;
        table[static_cast<unsigned char>('-')] = 62;
        table[static_cast<unsigned char>('_')] = 63;
        init = true;
    }
    std::string out;
    out.reserve(in.size() * 3 / 4);
    int val = 0, bits = -8;
    for (unsigned char c : in) {
        if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        if (table[c] < 0) bad(param, "is not valid base64");
        val = (val << 6) + table[c];
        bits += 6;
        if (bits >= 0) {
            out.push_back(char((val >> bits) & 0xff));
            bits -= 8;
        }
    }
    return out;
}

}  // namespace

const std::vector<RequestField>& request_fields() {
    static const std::vector<RequestField> kFields = {
        {"prompt", "string", "What to generate (required, at most 4000 characters).", {}},
        {"negative_prompt", "string", "What to avoid; empty uses the model's default.", {}},
        {"image_url", "string", "Reference image as a data: URI (PNG, JPEG or WebP, at most 10 MB); makes the job image-to-video. Alias: image.", {}},
        {"duration", "integer", "Clip length in seconds, 1..15 (presets 5, 10, 15); \"5\" and \"5s\" are accepted. Alias: seconds.", {}},
        {"aspect_ratio", "string", "Frame shape.", kAspectRatios},
        {"resolution", "string", "Output resolution; the loaded model may support fewer (see /health).", kResolutions},
        {"seed", "integer", "Random seed; omitted: a random one (returned in the result).", {}},
        {"generate_audio", "boolean", "false: silent video. Alias: audio.", {}},
        {"language", "string", "Speech language: en, zh (Mandarin), yue (Cantonese), ja, ko, de, fr, or its English name.", {}},
        {"steps", "integer", "Denoising steps of the base stage; 0 = the model default.", {}},
        {"priority", "integer", "Queue priority, -10..10 (higher runs first; FIFO within a priority).", {}},
        {"webhook_url", "string", "POSTed {request_id, status, payload, error} when the job finishes (also ?fal_webhook=).", {}},
    };
    return kFields;
}

ImageUpload check_image(std::string bytes, const std::string& param) {
    if (bytes.size() > kMaxImageBytes)
        throw ApiError(413, "image_too_large",
                       param + ": image is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                           std::to_string(kMaxImageBytes),
                       param);
    ImageUpload img;
    auto starts = [&](const char* magic, size_t n, size_t at = 0) {
        return bytes.size() >= at + n && bytes.compare(at, n, magic, n) == 0;
    };
    if (starts("\x89PNG\r\n\x1a\n", 8)) img.ext = "png";
    else if (starts("\xff\xd8\xff", 3)) img.ext = "jpg";
    else if (starts("RIFF", 4) && starts("WEBP", 4, 8)) img.ext = "webp";
    else throw ApiError(415, "unsupported_image", param + ": not a PNG, JPEG or WebP image", param);
    img.bytes = std::move(bytes);
    return img;
}

ImageUpload decode_data_uri(const std::string& uri, const std::string& param) {
    const std::string prefix = "data:";
    const auto comma = uri.find(',');
    if (uri.compare(0, prefix.size(), prefix) != 0 || comma == std::string::npos ||
        uri.substr(0, comma).find(";base64") == std::string::npos)
        bad(param, "must be a data: URI with base64 content (data:image/png;base64,...); "
                   "this server fetches no remote URLs");
    if ((uri.size() - comma) * 3 / 4 > kMaxImageBytes + 3)
        throw ApiError(413, "image_too_large", param + ": image larger than " + std::to_string(kMaxImageBytes) + " bytes", param);
    return check_image(base64_decode(uri.substr(comma + 1), param), param);
}

std::string language_code(const std::string& v) {
    std::string s;
    for (char c : v) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (one_of(s, kLanguages)) return s;
    static const std::vector<std::pair<std::string, std::string>> kNames = {
        {"english", "en"}, {"mandarin", "zh"}, {"chinese", "zh"}, {"cantonese", "yue"},
        {"japanese", "ja"}, {"korean", "ko"}, {"german", "de"}, {"french", "fr"},
        {"zh-cn", "zh"}, {"zh-hk", "yue"}, {"en-us", "en"}, {"en-gb", "en"}};
    for (const auto& [name, code] : kNames)
        if (s == name) return code;
    return "";
}

ParsedRequest parse_generate_json(const json& body, const std::vector<std::string>& allowed_resolutions) {
    if (!body.is_object()) throw ApiError(422, "invalid_body", "the request body must be a JSON object");
    ParsedRequest out;
    GenerateRequest& r = out.request;
    if (!body.contains("prompt") || body["prompt"].is_null()) bad("prompt", "is required");
    r.prompt = get_string(body, "prompt", "");
    if (r.prompt.size() > kMaxPromptChars)
        bad("prompt", "is " + std::to_string(r.prompt.size()) + " characters; the limit is " +
                          std::to_string(kMaxPromptChars));
    if (r.prompt.find_first_not_of(" \t\r\n") == std::string::npos) bad("prompt", "must not be empty");
    r.negative_prompt = get_string(body, "negative_prompt", "");
    if (r.negative_prompt.size() > kMaxPromptChars) bad("negative_prompt", "is too long");

    for (const char* name : {"duration", "seconds"})
        if (body.contains(name) && !body[name].is_null()) r.seconds = get_seconds(body[name], name);
    if (r.seconds < 1 || r.seconds > 15) bad("duration", "must be 1..15 seconds, got " + std::to_string(r.seconds));

    r.aspect_ratio = get_string(body, "aspect_ratio", r.aspect_ratio);
    if (!one_of(r.aspect_ratio, kAspectRatios))
        bad("aspect_ratio", "must be one of " + join(kAspectRatios) + ", got '" + r.aspect_ratio + "'");
    r.resolution = get_string(body, "resolution", r.resolution);
    if (!one_of(r.resolution, kResolutions))
        bad("resolution", "must be one of " + join(kResolutions) + ", got '" + r.resolution + "'");
    if (!allowed_resolutions.empty() && !one_of(r.resolution, allowed_resolutions))
        bad("resolution", "'" + r.resolution + "' is not available with the loaded model (available: " +
                              join(allowed_resolutions) + ")");

    if (body.contains("seed") && !body["seed"].is_null()) {
        if (!body["seed"].is_number_integer()) bad("seed", "must be an integer");
        r.seed = body["seed"].get<int64_t>();
        if (r.seed < 0) bad("seed", "must be >= 0");
    } else {
        std::random_device rd;
        r.seed = static_cast<int64_t>((uint64_t(rd()) << 20 ^ rd()) & 0x7fffffff);
    }
    if (body.contains("steps") && !body["steps"].is_null()) {
        if (!body["steps"].is_number_integer()) bad("steps", "must be an integer");
        r.steps = body["steps"].get<int>();
        if (r.steps < 0 || r.steps > 100) bad("steps", "must be 0..100");
    }
    for (const char* name : {"generate_audio", "audio"})
        if (body.contains(name) && !body[name].is_null()) {
            if (!body[name].is_boolean()) bad(name, "must be true or false");
            r.audio = body[name].get<bool>();
        }
    for (const char* name : {"language", "speech_language"}) {
        const std::string lang = get_string(body, name, "");
        if (lang.empty()) continue;
        r.language = language_code(lang);
        if (r.language.empty())
            bad(name, "must be one of " + join(kLanguages) + " (or Mandarin, Cantonese, English, Japanese, "
                      "Korean, German, French), got '" + lang + "'");
    }
    for (const char* name : {"image_url", "image"}) {
        const std::string uri = get_string(body, name, "");
        if (uri.empty()) continue;
        out.image = decode_data_uri(uri, name);
        out.has_image = true;
    }
    try {
        GenerateRequest check = r;
        if (out.has_image) check.image_path = "input." + out.image.ext;  // checked when the job runs
        check.output_path = "output.mp4";
        check.validate();
    } catch (const canter::Error& e) {
        if (e.code() == ErrorCode::kInvalidArgument) throw ApiError(422, "invalid_field", e.what());
        throw;
    }
    return out;
}

json request_to_json(const GenerateRequest& r) {
    return json{{"prompt", r.prompt},         {"negative_prompt", r.negative_prompt},
                {"image_path", r.image_path}, {"seconds", r.seconds},
                {"aspect_ratio", r.aspect_ratio}, {"resolution", r.resolution},
                {"seed", r.seed},             {"steps", r.steps},
                {"audio", r.audio},           {"language", r.language}};
}

GenerateRequest request_from_json(const json& j) {
    GenerateRequest r;
    r.prompt = j.value("prompt", "");
    r.negative_prompt = j.value("negative_prompt", "");
    r.image_path = j.value("image_path", "");
    r.seconds = j.value("seconds", r.seconds);
    r.aspect_ratio = j.value("aspect_ratio", r.aspect_ratio);
    r.resolution = j.value("resolution", r.resolution);
    r.seed = j.value("seed", r.seed);
    r.steps = j.value("steps", r.steps);
    r.audio = j.value("audio", r.audio);
    r.language = j.value("language", "");
    return r;
}

int64_t request_cost(const GenerateRequest& r) {
    const int64_t per_second = r.resolution == "1080p" ? 16 : r.resolution == "540p" ? 4 : 1;
    return per_second * r.seconds;
}

}  // namespace canter::server
