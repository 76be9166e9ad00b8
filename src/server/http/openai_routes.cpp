// OpenAI-style videos API (POST/GET/DELETE /v1/videos, /v1/videos/{id}/content): the official
// `openai` client works against it with baseURL = http://HOST:PORT/v1. Input is multipart form
// (what the client sends) or JSON; both become the queue API's JSON and go through
// parse_generate_json, so validation is the same everywhere.
#include <filesystem>
#include <fstream>

#include "server/api_error.h"
#include "server/http/context.h"
#include "server/http/file_stream.h"
#include "server/request_json.h"
#include "util/utf8.h"

namespace canter::server {
namespace {

std::string openai_status(JobStatus s) {
    switch (s) {
        case JobStatus::kQueued: return "queued";
        case JobStatus::kRunning: return "in_progress";
        case JobStatus::kSucceeded: return "completed";
        default: return "failed";
    }
}

// "1280x720" -> aspect ratio + resolution (the shorter side picks the resolution).
void apply_size(const std::string& size, json& body) {
    int w = 0, h = 0;
    char x = 0;
    std::istringstream in(size);
    if (!(in >> w >> x >> h) || x != 'x' || w <= 0 || h <= 0 || w > 8192 || h > 8192)
        throw ApiError(400, "invalid_field", "size: must be WIDTHxHEIGHT, e.g. 1280x720", "size");
    const double ratio = double(w) / h;
    const std::pair<const char*, double> shapes[] = {{"16:9", 16.0 / 9}, {"9:16", 9.0 / 16}, {"1:1", 1.0},
                                                     {"4:3", 4.0 / 3}, {"3:4", 3.0 / 4}};
    const char* best = "16:9";
    double best_err = 1e9;
    for (const auto& [name, r] : shapes)
        if (std::abs(std::log(ratio / r)) < best_err) best_err = std::abs(std::log(ratio / r)), best = name;
    const int short_side = std::min(w, h);
    if (!body.contains("aspect_ratio")) body["aspect_ratio"] = best;
    if (!body.contains("resolution")) body["resolution"] = short_side <= 360 ? "256p" : short_side <= 720 ? "540p" : "1080p";
}

json video_object(const Job& job) {
    const json request = json::parse(job.request_json);
    const std::string status = openai_status(job.status);
    json v = {{"id", job.id},
              {"object", "video"},
              {"model", job.model},
              {"status", status},
              {"progress", job.status == JobStatus::kSucceeded ? 100 : 0},
              {"created_at", static_cast<int64_t>(job.created_at)},
              {"completed_at", nullptr},
              {"expires_at", nullptr},
              {"seconds", std::to_string(request.value("seconds", 0))},
              {"size", request.value("aspect_ratio", "") + "@" + request.value("resolution", "")},
              {"prompt", request.value("prompt", "")},
              {"remixed_from_video_id", nullptr},
              {"error", nullptr}};
    if (job.finished_at > 0) v["completed_at"] = static_cast<int64_t>(job.finished_at);
    if (job.status == JobStatus::kSucceeded && !job.result_json.empty()) {
        const json r = json::parse(job.result_json);
        v["size"] = std::to_string(r.value("width", 0)) + "x" + std::to_string(r.value("height", 0));
        v["seed"] = r.value("seed", 0);
    }
    if (job.status == JobStatus::kFailed || job.status == JobStatus::kCancelled)
        v["error"] = {{"code", job.status == JobStatus::kCancelled ? "cancelled" : "generation_failed"},
                      {"message", job.error}};
    return v;
}

json with_progress(Context& ctx, const Job& job) {
    json v = video_object(job);
    if (job.status == JobStatus::kRunning)
        if (auto live = ctx.live.snapshot(job.id)) v["progress"] = static_cast<int>(live->progress.fraction * 100);
    return v;
}

// Multipart form fields -> the JSON the queue API takes (typed like it).
json form_to_json(const httplib::Request& req) {
    json body = json::object();
    for (const auto& [name, part] : req.files) {
        if (!part.filename.empty() || name == "input_reference") continue;
        const std::string& v = part.content;
        if (util::first_invalid_utf8(name) >= 0)
            throw ApiError(400, "invalid_utf8", "form field name '" + util::escape_bytes(name) + "': invalid UTF-8");
        if (const int64_t bad = util::first_invalid_utf8(v); bad >= 0)
            throw ApiError(400, "invalid_utf8",
                           "form field '" + name + "': invalid UTF-8 at byte " + std::to_string(bad), name);
        if (name == "seed" || name == "steps" || name == "priority") {
            if (v.empty() || v.size() > 18 || v.find_first_not_of("-0123456789") != std::string::npos)
                throw ApiError(400, "invalid_field", name + ": must be an integer", name);
            body[name] = std::stoll(v);
        } else if (name == "generate_audio" || name == "audio") {
            if (v != "true" && v != "false")
                throw ApiError(400, "invalid_field", name + ": must be true or false", name);
            body[name] = v == "true";
        } else {
            body[name] = v;
        }
    }
    return body;
}

}  // namespace

void register_openai_routes(httplib::Server& http, Context& ctx) {
    http.Post("/v1/videos", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        json body;
        std::optional<ImageUpload> image;
        if (req.is_multipart_form_data()) {
            body = form_to_json(req);
            if (req.has_file("input_reference")) {
                const auto part = req.get_file_value("input_reference");
                image = check_image(part.content, "input_reference");
            }
        } else {
            body = parse_json_body(req);
        }
        if (body.contains("model")) {
            if (!body["model"].is_string()) throw ApiError(400, "invalid_field", "model: must be a string", "model");
            const std::string model = body["model"];
            if (model != "canter" && model.rfind("canter/", 0) != 0)
                throw ApiError(400, "model_not_found", "model: unknown model '" + model + "' (this server serves 'canter')", "model");
        }
        const std::string model = body.value("model", "canter");
        if (body.contains("size")) {
            if (!body["size"].is_string()) throw ApiError(400, "invalid_field", "size: must be a string", "size");
            apply_size(body["size"], body);
        }
        ParsedRequest parsed;
        try {
            parsed = parse_generate_json(body, ctx.workers->model_info().resolutions);
        } catch (ApiError& e) {
            if (e.status == 422) e.status = 400;  // OpenAI reports validation errors as 400
            throw;
        }
        if (image) {
            parsed.image = std::move(*image);
            parsed.has_image = true;
        }
        const Job job = submit_job(ctx, key, std::move(parsed), "openai", model, 0, "");
        send_json(res, 200, video_object(job));
    }));

    http.Get("/v1/videos", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        int limit = 20;
        if (req.has_param("limit")) {
            const std::string l = req.get_param_value("limit");
            if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos)
                throw ApiError(400, "invalid_field", "limit: must be 1..100", "limit");
            limit = std::max(1, std::min(100, std::stoi(l)));
        }
        int64_t before = 0;
        if (req.has_param("after")) before = owned_job(ctx, key, req.get_param_value("after")).seq;
        auto jobs = ctx.jobs.list(key.id, limit + 1, before);
        const bool more = static_cast<int>(jobs.size()) > limit;
        if (more) jobs.pop_back();
        json data = json::array();
        for (const auto& j : jobs) {
            json v = with_progress(ctx, j);
            if (j.status == JobStatus::kSucceeded) v["url"] = video_url(req, j);
            data.push_back(v);
        }
        send_json(res, 200, {{"object", "list"}, {"data", data}, {"has_more", more},
                             {"first_id", jobs.empty() ? json(nullptr) : json(jobs.front().id)},
                             {"last_id", jobs.empty() ? json(nullptr) : json(jobs.back().id)}});
    }));

    http.Get("^/v1/videos/([^/]+)$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[1]);
        json v = with_progress(ctx, job);
        if (job.status == JobStatus::kSucceeded) v["url"] = video_url(req, job);
        send_json(res, 200, v);
    }));

    http.Get("^/v1/videos/([^/]+)/content$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[1]);
        const std::string variant = req.has_param("variant") ? req.get_param_value("variant") : "video";
        if (variant != "video") throw ApiError(400, "invalid_field", "variant: only 'video' is available", "variant");
        if (job.status != JobStatus::kSucceeded)
            throw ApiError(404, "not_ready", "video " + job.id + " is " + openai_status(job.status) + "; no content yet");
        if (!send_file_streamed(res, ctx.files.output_path(job.id), "video/mp4"))
            throw ApiError(404, "not_found", "the video file of " + job.id + " is gone (deleted or expired)");
        res.set_header("Content-Disposition", "attachment; filename=\"" + job.id + ".mp4\"");
    }));

    http.Delete("^/v1/videos/([^/]+)$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[1]);
        delete_job(ctx, job);
        send_json(res, 200, {{"id", job.id}, {"object", "video.deleted"}, {"deleted", true}});
    }));
}

}  // namespace canter::server
