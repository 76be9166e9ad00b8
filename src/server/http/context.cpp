#include "server/http/context.h"

#include <iostream>

#include "canter/error.h"
#include "server/api_error.h"
#include "server/auth/sha256.h"
#include "server/request_json.h"
#include "server/http/webhook_target.h"
#include "util/utf8.h"

namespace canter::server {

Context::Context(ServeOptions o)
    : options(std::move(o)),
      db(options.data_dir + "/canter.db"),
      keys(db),
      jobs(db),
      files(options.data_dir),
      submit_limiter(options.submit_per_minute) {}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    // Never throw while answering: a stray invalid byte (in an echoed value) becomes U+FFFD.
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json error_body(int status, const std::string& code, const std::string& message, const std::string& param) {
    const char* type = status == 401 || status == 403 ? "authentication_error"
                       : status == 402                ? "insufficient_credits"
                       : status == 429                ? "rate_limit_error"
                       : status >= 500                ? "server_error"
                                                      : "invalid_request_error";
    json err = {{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}};
    if (!param.empty()) err["param"] = param;
    // "message" is what the fal client shows; "detail" is FastAPI/pydantic's shape, which the fal
    // client's ValidationError understands (per-field list for 422s).
    json detail = message;
    if (status == 422 && !param.empty())
        detail = json::array({{{"loc", {"body", param}}, {"msg", message}, {"type", "value_error"}}});
    return json{{"error", err}, {"message", message}, {"detail", detail}};
}

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                const std::string& param) {
    send_json(res, status, error_body(status, code, message, param));
}

// A 5xx answer carries an id and no internals (paths, library messages); the log has both.
void send_internal_error(httplib::Response& res, const httplib::Request& req, const std::string& what) {
    const std::string id = "err_" + random_id();
    std::cerr << "canter serve: " << id << ": " << req.method << " " << req.path << ": " << what << "\n";
    send_error(res, 500, "internal", "internal error " + id + " (the server log has the details)");
}

int http_status_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return 422;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kCancelled: return 409;
        case ErrorCode::kUnsupported: return 501;
        default: return 500;
    }
}

httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> fn) {
    return [fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
        try {
            fn(req, res);
        } catch (const ApiError& e) {
            send_error(res, e.status, e.code, e.what(), e.param);
        } catch (const canter::Error& e) {
            const int status = http_status_for(e.code());
            if (status == 500) send_internal_error(res, req, e.what());
            else send_error(res, status, error_code_name(e.code()), e.what());
        } catch (const json::exception& e) {
            send_error(res, 400, "invalid_json", std::string("malformed JSON: ") + e.what());
        } catch (const std::exception& e) {
            send_internal_error(res, req, e.what());
        }
    };
}

ApiKey authenticate(Context& ctx, const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    std::string secret;
    for (const char* scheme : {"Bearer ", "Key ", "bearer ", "key "})
        if (header.rfind(scheme, 0) == 0) secret = header.substr(std::string(scheme).size());
    while (!secret.empty() && secret.back() == ' ') secret.pop_back();
    if (secret.empty())
        throw ApiError(401, "missing_api_key",
                       header.empty() ? "missing Authorization header (use 'Authorization: Bearer KEY' or 'Key KEY')"
                                      : "Authorization must be 'Bearer KEY' or 'Key KEY'");
    auto key = ctx.keys.find_by_secret(secret);
    if (!key) throw ApiError(401, "invalid_api_key", "unknown API key");
    if (key->revoked) throw ApiError(403, "revoked_api_key", "this API key has been revoked");
    return *key;
}

json parse_json_body(const httplib::Request& req) {
    const std::string type = req.get_header_value("Content-Type");
    // Lenient about the header (curl -d sends form-urlencoded), strict about the content.
    if (type.rfind("multipart/", 0) == 0)
        throw ApiError(415, "unsupported_media_type", "expected a JSON body, got " + type);
    if (const int64_t bad = util::first_invalid_utf8(req.body); bad >= 0)
        throw ApiError(400, "invalid_utf8", "request body: invalid UTF-8 at byte " + std::to_string(bad));
    json body;
    try {
        body = json::parse(req.body);
    } catch (const json::parse_error& e) {
        throw ApiError(400, "invalid_json", std::string("malformed JSON body: ") + e.what());
    }
    if (!body.is_object()) throw ApiError(400, "invalid_json", "the JSON body must be an object");
    return body;
}

std::string base_url(const httplib::Request& req) {
    std::string host = req.get_header_value("Host");
    if (host.empty()) host = "127.0.0.1";
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (req.ssl) return "https://" + host;  // served by the SSLServer (--tls-cert)
#endif
    return "http://" + host;
}

Job owned_job(Context& ctx, const ApiKey& key, const std::string& id) {
    if (!is_valid_id(id)) throw ApiError(404, "not_found", "no such request");
    auto job = ctx.jobs.get(id);
    if (!job || job->key_id != key.id || job->deleted_at > 0) throw ApiError(404, "not_found", "no such request: " + id);
    return *job;
}

void check_rate(Context& ctx, const ApiKey& key) {
    double retry = 0;
    if (!ctx.submit_limiter.allow(key.id, now_seconds(), &retry))
        throw ApiError(429, "rate_limited",
                       "too many submissions; retry in " + std::to_string(static_cast<int>(retry + 1)) + " s");
}

Job submit_job(Context& ctx, const ApiKey& key, ParsedRequest parsed, const std::string& api,
               const std::string& model, int priority, const std::string& webhook_url) {
    if (priority < -10 || priority > 10) throw ApiError(422, "invalid_field", "priority: must be -10..10", "priority");
    // Jumping the queue is an operator's decision: only admin keys may set a priority.
    if (priority != 0 && key.role != "admin")
        throw ApiError(403, "forbidden", "priority: only admin keys may set a priority (this key is '" + key.role + "')",
                       "priority");
    if (!webhook_url.empty()) {
        try {
            resolve_webhook_target(webhook_url, ctx.options.allow_private_webhooks);
        } catch (const Error& e) {
            throw ApiError(422, "invalid_field", e.what(), "webhook_url");
        }
    }
    check_rate(ctx, key);
    NewJob nj;
    nj.id = "req_" + random_id();
    nj.key_id = key.id;
    nj.api = api;
    nj.model = model;
    nj.priority = priority;
    nj.webhook_url = webhook_url;
    nj.cost = request_cost(parsed.request);
    if (parsed.has_image) {
        const std::string name = "input." + parsed.image.ext;
        ctx.files.write(nj.id, name, parsed.image.bytes);
        parsed.request.image_path = name;  // relative to the job folder
    }
    nj.request_json = request_to_json(parsed.request).dump();
    try {
        Job job = ctx.jobs.submit(nj, ctx.options.quotas);
        ctx.workers->notify();
        ctx.live.notify();
        return job;
    } catch (...) {
        ctx.files.remove(nj.id);
        throw;
    }
}

bool cancel_job(Context& ctx, const Job& job) {
    if (is_terminal(job.status)) return false;
    if (ctx.jobs.cancel_if_queued(job.id)) {
        ctx.live.notify();
        return true;
    }
    auto now = ctx.jobs.get(job.id);
    if (!now || is_terminal(now->status)) return false;
    ctx.live.request_cancel(job.id);  // the worker stops at the next step and records it
    return true;
}

void delete_job(Context& ctx, const Job& job) {
    cancel_job(ctx, job);
    ctx.jobs.mark_deleted(job.id);
    // A running job's folder is removed when it stops: the worker still writes there now.
    auto now = ctx.jobs.get(job.id);
    if (now && now->status != JobStatus::kRunning) ctx.files.remove(job.id);
    ctx.live.notify();
}

std::string video_url(const httplib::Request& req, const Job& job) {
    return base_url(req) + "/v1/files/" + job.id + "/output.mp4?token=" + job.file_token;
}

}  // namespace canter::server
