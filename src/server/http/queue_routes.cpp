// Queue API in the style of hosted inference queues (fal.ai): submit, status (polling and
// Server-Sent Events), result, cancel. Model ids: "canter" or "canter/<anything>" (the fal client
// needs owner/alias ids) all mean the server's loaded model. As on fal, a request ends COMPLETED
// whatever its outcome; a failed or cancelled one carries `error` and fal's `error_type` (the fal
// clients know only IN_QUEUE, IN_PROGRESS and COMPLETED: Python's raises on anything else).
#include <thread>

#include "server/api_error.h"
#include "server/http/context.h"
#include "server/request_json.h"

namespace canter::server {
namespace {

const char* kModel = "(canter(?:/[A-Za-z0-9_.-]+)*)";

std::string model_path(const std::string& model) { return "/v1/queue/" + model; }

std::string fal_status(JobStatus s) {
    switch (s) {
        case JobStatus::kQueued: return "IN_QUEUE";
        case JobStatus::kRunning: return "IN_PROGRESS";
        default: return "COMPLETED";
    }
}

// fal's request error types (its docs' "Request Errors"); "" for a job that has not failed.
std::string fal_error_type(JobStatus s) {
    if (s == JobStatus::kCancelled) return "client_cancelled";
    if (s == JobStatus::kFailed) return "runner_server_error";
    return "";
}

// Result of a failed (500) or cancelled (499, fal's code for client_cancelled) job, with
// `error_type` in the body and X-Fal-Error-Type as fal sends them. Not 409: fal clients retry 409.
void send_job_error(httplib::Response& res, const Job& job) {
    const bool cancelled = job.status == JobStatus::kCancelled;
    const std::string type = fal_error_type(job.status);
    const int status = cancelled ? 499 : 500;
    json body = error_body(status, cancelled ? "cancelled" : "generation_failed", job.error);
    body["error_type"] = type;
    send_json(res, status, body);
    if (cancelled) res.reason = "Client Closed Request";
    res.set_header("X-Fal-Error-Type", type);
}

json urls(const std::string& base_url, const Job& job) {
    const std::string base = base_url + model_path(job.model) + "/requests/" + job.id;
    return {{"status_url", base + "/status"}, {"response_url", base}, {"cancel_url", base + "/cancel"}};
}

json status_json(Context& ctx, const std::string& base, const Job& job, bool with_logs) {
    json out = {{"status", fal_status(job.status)}, {"request_id", job.id}};
    out.update(urls(base, job));
    if (job.status == JobStatus::kQueued) out["queue_position"] = ctx.jobs.queue_position(job);
    json logs = json::array();
    if (job.status == JobStatus::kRunning) {
        if (auto live = ctx.live.snapshot(job.id)) {
            const auto& p = live->progress;
            out["progress"] = {{"stage", p.stage}, {"step", p.step}, {"steps", p.steps},
                               {"fraction", p.fraction}, {"elapsed_s", p.elapsed_s}, {"eta_s", p.eta_s},
                               {"message", p.message}};
            for (const auto& l : live->logs)
                logs.push_back({{"message", l.message}, {"level", "INFO"}, {"source", "canter"},
                                {"timestamp", l.timestamp}});
        } else {
            out["progress"] = {{"stage", "load"}, {"step", 0}, {"steps", 0}, {"fraction", 0.0}};
        }
    }
    out["logs"] = with_logs ? logs : json(nullptr);  // the fal client reads the key for IN_PROGRESS and COMPLETED
    if (job.status == JobStatus::kSucceeded) {
        out["metrics"] = {{"inference_time", job.finished_at - job.started_at}};
    }
    if (job.status == JobStatus::kFailed || job.status == JobStatus::kCancelled) {
        out["error"] = job.error;
        out["error_type"] = fal_error_type(job.status);
        out["cancelled"] = job.status == JobStatus::kCancelled;
    }
    return out;
}

json result_json(const httplib::Request& req, const Job& job) {
    const json r = json::parse(job.result_json.empty() ? "{}" : job.result_json);
    const json request = json::parse(job.request_json);
    return {{"video", {{"url", video_url(req, job)}, {"content_type", "video/mp4"},
                       {"file_name", job.id + ".mp4"}, {"file_size", r.value("file_size", 0)}}},
            {"seed", r.value("seed", 0)},
            {"width", r.value("width", 0)},
            {"height", r.value("height", 0)},
            {"frames", r.value("frames", 0)},
            {"duration", r.value("video_seconds", 0.0)},
            {"has_audio", r.value("audio_sample_rate", 0) > 0},
            {"demo_model", r.value("demo_model", false)},
            {"timings", r.value("timings_s", json::object())},
            {"prompt", request.value("prompt", "")}};
}

// ?logs=1 (fal's REST form), ?logs=true (what fal-client's httpx sends); on unless 0 or false.
bool wants_logs(const httplib::Request& req) {
    const std::string v = req.get_param_value("logs");
    return v != "0" && v != "false";
}

int fal_priority(const httplib::Request& req, const json& body) {
    if (body.contains("priority")) {
        if (!body["priority"].is_number_integer())
            throw ApiError(422, "invalid_field", "priority: must be an integer", "priority");
        return body["priority"].get<int>();
    }
    const std::string p = req.get_header_value("X-Fal-Queue-Priority");
    return p == "low" ? -1 : 0;
}

}  // namespace

void register_queue_routes(httplib::Server& http, Context& ctx) {
    http.Post(std::string("^/v1/queue/") + kModel + "$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const json body = parse_json_body(req);
        std::string webhook = req.get_param_value("fal_webhook");
        if (body.contains("webhook_url")) {
            if (!body["webhook_url"].is_string())
                throw ApiError(422, "invalid_field", "webhook_url: must be a string", "webhook_url");
            webhook = body["webhook_url"].get<std::string>();
        }
        ParsedRequest parsed = parse_generate_json(body, ctx.workers->model_info().resolutions);
        const Job job = submit_job(ctx, key, std::move(parsed), "queue", req.matches[1], fal_priority(req, body), webhook);
        json out = {{"request_id", job.id}, {"status", "IN_QUEUE"}, {"queue_position", ctx.jobs.queue_position(job)},
                    {"cost", job.cost}};
        out.update(urls(base_url(req), job));
        res.set_header("x-fal-request-id", job.id);
        send_json(res, 200, out);
    }));

    const std::string request_base = std::string("^/v1/queue/") + kModel + "/requests/([^/]+)";
    http.Get(request_base + "/status$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[2]);
        send_json(res, 200, status_json(ctx, base_url(req), job, wants_logs(req)));
    }));

    http.Get(request_base + "/status/stream$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const std::string id = owned_job(ctx, key, req.matches[2]).id;
        const bool logs = wants_logs(req);
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        const std::string base = base_url(req);
        res.set_chunked_content_provider("text/event-stream", [&ctx, base, id, logs](size_t, httplib::DataSink& sink) {
            // One event per change; a comment line every 15 s keeps proxies from timing out.
            uint64_t seen = ctx.live.version();
            std::string last;
            for (;;) {
                auto job = ctx.jobs.get(id);
                if (!job) break;
                const std::string data = status_json(ctx, base, *job, logs).dump();
                if (data != last) {
                    const std::string event = "data: " + data + "\n\n";
                    if (!sink.write(event.data(), event.size())) return false;
                    last = data;
                }
                if (is_terminal(job->status) || ctx.stopping) break;
                const uint64_t now = ctx.live.wait_change(seen, 15000);
                if (now == seen) {
                    if (!sink.write(": keep-alive\n\n", 14)) return false;
                }
                seen = now;
                if (!sink.is_writable()) return false;
            }
            sink.done();
            return true;
        });
    }));

    http.Get(request_base + "$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[2]);
        res.set_header("x-fal-request-id", job.id);
        switch (job.status) {
            case JobStatus::kSucceeded: send_json(res, 200, result_json(req, job)); return;
            case JobStatus::kFailed:
            case JobStatus::kCancelled: send_job_error(res, job); return;
            default: send_error(res, 400, "not_ready", "request is still " + fal_status(job.status) + "; poll its status_url");
        }
    }));

    http.Put(request_base + "/cancel$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(ctx, req);
        const Job job = owned_job(ctx, key, req.matches[2]);
        if (cancel_job(ctx, job)) send_json(res, 202, {{"status", "CANCELLATION_REQUESTED"}});
        else send_json(res, 400, {{"status", "ALREADY_COMPLETED"}, {"detail", "the request already finished"}});
    }));
}

}  // namespace canter::server
