// GET /openapi.json. The request schema is generated from request_fields(), the same table the
// parser documents; a test calls every path/method listed here against a live server.
#include "server/http/context.h"
#include "server/request_json.h"
#include "canter/version.h"

namespace canter::server {
namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json error_responses(std::initializer_list<int> codes) {
    json r = json::object();
    for (int c : codes)
        r[std::to_string(c)] = {{"description", c == 401 ? "missing or unknown API key"
                                                 : c == 402 ? "not enough credits"
                                                 : c == 403 ? "revoked API key"
                                                 : c == 404 ? "no such request (or not yours)"
                                                 : c == 429 ? "rate limit or quota exceeded"
                                                 : c == 413 ? "upload too large"
                                                 : c == 415 ? "not JSON / not an image"
                                                 : c == 499 ? "the job was cancelled (fal: client_cancelled)"
                                                 : c == 500 ? "the job failed (fal: runner_server_error)"
                                                            : "invalid input (names the field)"},
                                {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
    return r;
}

json op(const std::string& summary, const std::string& tag, json responses, json extra = json::object()) {
    json o = {{"summary", summary}, {"tags", {tag}}, {"responses", responses}};
    o.update(extra);
    return o;
}

json ok(const std::string& schema, const std::string& type = "application/json") {
    return {{"description", "OK"}, {"content", {{type, schema.empty() ? json::object() : json{{"schema", ref(schema)}}}}}};
}

json path_param(const std::string& name, const std::string& description) {
    return {{"name", name}, {"in", "path"}, {"required", true}, {"description", description}, {"schema", {{"type", "string"}}}};
}

}  // namespace

json openapi_document() {
    json fields = json::object();
    for (const auto& f : request_fields()) {
        json p = {{"type", f.type}, {"description", f.description}};
        if (!f.choices.empty()) p["enum"] = f.choices;
        fields[f.name] = p;
    }
    // Accepted aliases.
    fields["image"] = {{"type", "string"}, {"description", "Alias of image_url."}};
    fields["seconds"] = {{"type", "integer"}, {"description", "Alias of duration."}};
    fields["audio"] = {{"type", "boolean"}, {"description", "Alias of generate_audio."}};
    fields["speech_language"] = {{"type", "string"}, {"description", "Alias of language."}};

    json schemas = {
        {"GenerateInput", {{"type", "object"}, {"required", {"prompt"}}, {"properties", fields}}},
        {"Error", {{"type", "object"},
                   {"properties", {{"error", {{"type", "object"}, {"properties", {{"message", {{"type", "string"}}}, {"type", {{"type", "string"}}}, {"code", {{"type", "string"}}}, {"param", {{"type", "string"}, {"nullable", true}}}}}}},
                                   {"detail", {{"type", "string"}}}}}}},
        {"QueueSubmitted", {{"type", "object"}, {"properties", {{"request_id", {{"type", "string"}}}, {"status", {{"type", "string"}}}, {"queue_position", {{"type", "integer"}}}, {"cost", {{"type", "integer"}}}, {"status_url", {{"type", "string"}}}, {"response_url", {{"type", "string"}}}, {"cancel_url", {{"type", "string"}}}}}}},
        {"QueueStatus", {{"type", "object"}, {"properties", {{"status", {{"type", "string"}, {"enum", {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}}}}, {"request_id", {{"type", "string"}}}, {"queue_position", {{"type", "integer"}}}, {"progress", {{"type", "object"}, {"description", "stage, step, steps, fraction, elapsed_s, eta_s, message"}}}, {"logs", {{"type", "array"}, {"items", {{"type", "object"}}}}}, {"error", {{"type", "string"}}}, {"error_type", {{"type", "string"}, {"enum", {"runner_server_error", "client_cancelled"}}}}, {"cancelled", {{"type", "boolean"}}}}}}},
        {"QueueResult", {{"type", "object"}, {"properties", {{"video", {{"type", "object"}, {"properties", {{"url", {{"type", "string"}}}, {"content_type", {{"type", "string"}}}, {"file_name", {{"type", "string"}}}, {"file_size", {{"type", "integer"}}}}}}}, {"seed", {{"type", "integer"}}}, {"width", {{"type", "integer"}}}, {"height", {{"type", "integer"}}}, {"frames", {{"type", "integer"}}}, {"duration", {{"type", "number"}}}, {"has_audio", {{"type", "boolean"}}}, {"timings", {{"type", "object"}}}}}}},
        {"Video", {{"type", "object"}, {"properties", {{"id", {{"type", "string"}}}, {"object", {{"type", "string"}}}, {"model", {{"type", "string"}}}, {"status", {{"type", "string"}, {"enum", {"queued", "in_progress", "completed", "failed"}}}}, {"progress", {{"type", "integer"}}}, {"created_at", {{"type", "integer"}}}, {"completed_at", {{"type", "integer"}, {"nullable", true}}}, {"seconds", {{"type", "string"}}}, {"size", {{"type", "string"}}}, {"url", {{"type", "string"}}}, {"error", {{"type", "object"}, {"nullable", true}}}}}}},
        {"VideoCreate", {{"type", "object"}, {"required", {"prompt"}}, {"properties", {{"prompt", {{"type", "string"}}}, {"model", {{"type", "string"}, {"default", "canter"}}}, {"seconds", {{"type", "string"}, {"description", "1..15"}}}, {"size", {{"type", "string"}, {"description", "WIDTHxHEIGHT; picks aspect ratio and resolution (short side <=360: 256p, <=720: 540p, else 1080p)"}}}, {"input_reference", {{"type", "string"}, {"format", "binary"}}}, {"negative_prompt", {{"type", "string"}}}, {"seed", {{"type", "integer"}}}, {"aspect_ratio", {{"type", "string"}}}, {"resolution", {{"type", "string"}}}, {"generate_audio", {{"type", "boolean"}}}, {"language", {{"type", "string"}}}}}}},
        {"RefineInput", {{"type", "object"}, {"required", {"idea"}}, {"properties", {{"idea", {{"type", "string"}}}, {"subject", {{"type", "string"}}}, {"action", {{"type", "string"}}}, {"camera", {{"type", "string"}}}, {"scene", {{"type", "string"}}}, {"sound", {{"type", "string"}}}, {"style", {{"type", "string"}}}, {"language", {{"type", "string"}}}, {"use_llm", {{"type", "boolean"}}}, {"dialogue", {{"type", "array"}, {"items", {{"type", "object"}, {"properties", {{"speaker", {{"type", "string"}}}, {"text", {{"type", "string"}}}, {"language", {{"type", "string"}}}}}}}}}}}}},
        {"RefineOutput", {{"type", "object"}, {"properties", {{"prompt", {{"type", "string"}}}, {"sections", {{"type", "object"}}}, {"source", {{"type", "string"}, {"enum", {"builder", "llm"}}}}, {"warning", {{"type", "string"}}}}}}},
    };

    const json model = path_param("model", "'canter' or 'canter/<anything>' (the loaded model)");
    const json id = path_param("request_id", "request id from the submission");
    const json vid = path_param("video_id", "video id");
    const json json_body = [](const std::string& s) { return json{{"required", true}, {"content", {{"application/json", {{"schema", ref(s)}}}}}}; }("GenerateInput");
    const auto std_errors = {400, 401, 403, 404};

    json paths = {
        {"/v1/queue/{model}", {{"post", op("Submit a generation job", "queue", [&] { json r = error_responses({400, 401, 402, 403, 413, 415, 422, 429}); r["200"] = ok("QueueSubmitted"); return r; }(),
                                             {{"parameters", {model, {{"name", "fal_webhook"}, {"in", "query"}, {"required", false}, {"schema", {{"type", "string"}}}}}}, {"requestBody", json_body}})}}},
        {"/v1/queue/{model}/requests/{request_id}/status", {{"get", op("Job status (IN_QUEUE with position, IN_PROGRESS with progress and logs, COMPLETED; a failed or cancelled job is COMPLETED with error and error_type)", "queue", [&] { json r = error_responses(std_errors); r["200"] = ok("QueueStatus"); return r; }(), {{"parameters", {model, id, {{"name", "logs"}, {"in", "query"}, {"schema", {{"type", "string"}, {"enum", {"0", "1", "false", "true"}}}}}}}})}}},
        {"/v1/queue/{model}/requests/{request_id}/status/stream", {{"get", op("Live status as Server-Sent Events (one QueueStatus per change; ends when finished)", "queue", [&] { json r = error_responses(std_errors); r["200"] = {{"description", "text/event-stream of QueueStatus"}, {"content", {{"text/event-stream", json::object()}}}}; return r; }(), {{"parameters", {model, id}}})}}},
        {"/v1/queue/{model}/requests/{request_id}", {{"get", op("Job result (400 while not finished, 499 cancelled, 500 failed; both with fal's error_type)", "queue", [&] { json r = error_responses({400, 401, 403, 404, 499, 500}); r["200"] = ok("QueueResult"); return r; }(), {{"parameters", {model, id}}})}}},
        {"/v1/queue/{model}/requests/{request_id}/cancel", {{"put", op("Cancel a queued or running job (a running job stops at its next step; credits are refunded)", "queue", [&] { json r = error_responses(std_errors); r["202"] = {{"description", "CANCELLATION_REQUESTED"}}; return r; }(), {{"parameters", {model, id}}})}}},
        {"/v1/videos", {{"post", op("Create a video (OpenAI-style; multipart form or JSON)", "videos", [&] { json r = error_responses({400, 401, 402, 403, 413, 415, 429}); r["200"] = ok("Video"); return r; }(),
                                    {{"requestBody", {{"required", true}, {"content", {{"multipart/form-data", {{"schema", ref("VideoCreate")}}}, {"application/json", {{"schema", ref("VideoCreate")}}}}}}}})},
                        {"get", op("List your videos, newest first", "videos", [&] { json r = error_responses(std_errors); r["200"] = {{"description", "{object: list, data: [Video], has_more, first_id, last_id}"}, {"content", {{"application/json", json::object()}}}}; return r; }(),
                                   {{"parameters", {{{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}}}}, {{"name", "after"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}}})}}},
        {"/v1/videos/{video_id}", {{"get", op("Get a video", "videos", [&] { json r = error_responses(std_errors); r["200"] = ok("Video"); return r; }(), {{"parameters", {vid}}})},
                                   {"delete", op("Delete a video (cancels it if unfinished, removes its files)", "videos", [&] { json r = error_responses(std_errors); r["200"] = {{"description", "{id, object: video.deleted, deleted: true}"}}; return r; }(), {{"parameters", {vid}}})}}},
        {"/v1/videos/{video_id}/content", {{"get", op("Download the MP4", "videos", [&] { json r = error_responses(std_errors); r["200"] = {{"description", "MP4"}, {"content", {{"video/mp4", json::object()}}}}; return r; }(), {{"parameters", {vid}}})}}},
        {"/v1/files/{request_id}/output.mp4", {{"get", op("A job's video; ?token= from its URL or the owner's key", "files", [&] { json r = error_responses({401, 404}); r["200"] = {{"description", "MP4 (Range supported)"}, {"content", {{"video/mp4", json::object()}}}}; return r; }(), {{"parameters", {id, {{"name", "token"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}}, {"security", json::array({json::object(), {{"bearer", json::array()}}})}})}}},
        {"/v1/prompts/refine", {{"post", op("Turn a loose idea into the structured prompt the model follows best", "prompts", [&] { json r = error_responses({400, 401, 403, 422}); r["200"] = ok("RefineOutput"); return r; }(),
                                            {{"requestBody", {{"required", true}, {"content", {{"application/json", {{"schema", ref("RefineInput")}}}}}}}})}}},
        {"/v1/me", {{"get", op("The calling key: name, remaining credits, quotas", "account", [&] { json r = error_responses({401, 403}); r["200"] = {{"description", "key info"}}; return r; }())}}},
        {"/health", {{"get", op("Liveness, model and queue summary (no key needed)", "server", {{"200", {{"description", "OK"}}}}, {{"security", json::array()}})}}},
        {"/openapi.json", {{"get", op("This document", "server", {{"200", {{"description", "OpenAPI 3 JSON"}}}}, {{"security", json::array()}})}}},
    };

    return {{"openapi", "3.0.3"},
            {"info", {{"title", "canter"}, {"version", kVersion},
                      {"description", "Self-hosted text/image-to-video with audio. Queue API in the style of hosted inference queues, "
                                      "an OpenAI-style videos API, and prompt refinement. Authenticate with 'Authorization: Bearer KEY' or 'Key KEY'."}}},
            {"servers", {{{"url", "/"}}}},
            {"security", {{{"bearer", json::array()}}}},
            {"components", {{"schemas", schemas},
                            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"description", "API key (canter keys create); 'Key KEY' also accepted"}}}}}}},
            {"paths", paths}};
}

}  // namespace canter::server
