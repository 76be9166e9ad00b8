// Prompt refinement: a deterministic builder that turns a loose idea plus options into the
// structured prompt the model follows best (subject, action, camera, scene, sound, dialogue with
// speaker and language), and optionally a rewrite by an OpenAI-compatible chat endpoint.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace canter::server {

struct DialogueLine {
    std::string speaker;
    std::string text;
    std::string language;  // code: en, zh, yue, ja, ko, de, fr
};

struct RefineInput {
    std::string idea;  // required
    std::string subject, action, camera, scene, sound, style;
    std::string language;  // default speech language (code)
    std::vector<DialogueLine> dialogue;
};

struct RefineOutput {
    std::string prompt;
    nlohmann::json sections;  // {subject, action, camera, scene, sound, style, dialogue:[...]}
    std::string source;       // "builder" or "llm"
    std::string warning;      // e.g. the LLM call failed and the builder result is returned
};

// Parses the POST /v1/prompts/refine body; throws ApiError 422 naming the field.
RefineInput parse_refine_json(const nlohmann::json& body);

// Same input, same output; no I/O.
RefineOutput build_prompt(const RefineInput& input);

struct ChatEndpoint {
    std::string base_url;  // e.g. http://127.0.0.1:11434/v1
    std::string model;
    std::string api_key;   // optional
};
// Asks the chat endpoint to polish the builder's result; on any failure returns the builder's
// result with `warning` set. Never throws for endpoint problems.
RefineOutput refine_with_llm(const RefineInput& input, const ChatEndpoint& endpoint);

}  // namespace canter::server
