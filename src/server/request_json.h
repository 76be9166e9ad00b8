// The one place where API input becomes a canter::GenerateRequest. Both HTTP APIs (queue and
// OpenAI-style) and the stored job rows go through here, and /openapi.json is generated from the
// same field table, so the documented schema is exactly what is accepted.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "canter/engine.h"

namespace canter::server {

struct RequestField {
    const char* name;
    const char* type;  // JSON schema type: "string", "integer", "boolean"
    const char* description;
    std::vector<std::string> choices;  // enum values, empty = free
};
// Every field POST /v1/queue/{model} accepts (aliases included).
const std::vector<RequestField>& request_fields();

constexpr size_t kMaxPromptChars = 4000;
constexpr size_t kMaxImageBytes = 10 << 20;

// An uploaded or inline reference image, checked to be PNG, JPEG or WebP.
struct ImageUpload {
    std::string bytes;
    std::string ext;  // "png", "jpg", "webp"
};
// Throws ApiError 413 (too big) or 422 (not an image) naming `param`.
ImageUpload check_image(std::string bytes, const std::string& param);
// "data:image/png;base64,...." -> checked image. Throws 422 naming `param`.
ImageUpload decode_data_uri(const std::string& uri, const std::string& param);

struct ParsedRequest {
    GenerateRequest request;  // image_path/output_path left for the caller to fill
    bool has_image = false;
    ImageUpload image;
};

// Parses a JSON body of the queue API. Throws ApiError 422 naming the field for wrong types,
// unknown enum values, a huge prompt, or anything GenerateRequest::validate() rejects.
// `allowed_resolutions` (from the loaded model) restricts "resolution".
ParsedRequest parse_generate_json(const nlohmann::json& body,
                                  const std::vector<std::string>& allowed_resolutions);

// Normalizes a language name or code ("English", "en", "Cantonese") to a code; "" if unknown.
std::string language_code(const std::string& name_or_code);

// The stored form of a request (job row) and back.
nlohmann::json request_to_json(const GenerateRequest& request);
GenerateRequest request_from_json(const nlohmann::json& stored);

// Credits a request costs: seconds x per-second price of its resolution.
int64_t request_cost(const GenerateRequest& request);

}  // namespace canter::server
