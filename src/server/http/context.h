// Everything a route handler needs, owned by the Server. Handlers are thin: they parse and
// check input, talk to the stores, and shape JSON.
#pragma once

#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "canter/error.h"
#include "server/auth/key_store.h"
#include "server/auth/rate_limit.h"
#include "server/http/server.h"
#include "server/queue/live_jobs.h"
#include "server/queue/worker_pool.h"
#include "server/store/db.h"
#include "server/store/files.h"
#include "server/store/job_store.h"

namespace canter::server {

struct Context {
    ServeOptions options;
    Db db;
    KeyStore keys;
    JobStore jobs;
    JobFiles files;
    LiveJobs live;
    RateLimiter submit_limiter;
    std::unique_ptr<WorkerPool> workers;
    std::atomic<bool> stopping{false};  // ends long-lived responses (SSE) at shutdown

    explicit Context(ServeOptions o);
};

using nlohmann::json;

// --- response helpers --------------------------------------------------------------------------
void send_json(httplib::Response& res, int status, const json& body);
// {"error": {"message", "type", "code", "param"}, "message", "detail"} (detail: pydantic-style
// [{loc, msg, type}] for a 422 naming a field, else the message)
void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                const std::string& param = "");
// The JSON send_error sends, for replies that add fields of their own.
json error_body(int status, const std::string& code, const std::string& message, const std::string& param = "");
// A 500 with an error id; `what` goes to the server log only.
void send_internal_error(httplib::Response& res, const httplib::Request& req, const std::string& what);
// Wraps a handler: ApiError, canter::Error, JSON errors and anything else become JSON responses.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> fn);
int http_status_for(ErrorCode code);

// --- request helpers ---------------------------------------------------------------------------
// The key from "Authorization: Bearer K" or "Key K"; 401 when missing/unknown, 403 when revoked.
ApiKey authenticate(Context& ctx, const httplib::Request& req);
// Body as JSON object; 400 on malformed JSON, 415 on a non-JSON content type.
json parse_json_body(const httplib::Request& req);
// "http://host:port" (https:// over TLS) as the client addressed us.
std::string base_url(const httplib::Request& req);
// The job `id` owned by `key` (404 for unknown, malformed or someone else's ids alike).
Job owned_job(Context& ctx, const ApiKey& key, const std::string& id);
// Takes a submission token for the key or throws 429.
void check_rate(Context& ctx, const ApiKey& key);

// --- shared job shaping ------------------------------------------------------------------------
// Submits a parsed request for `key` (saving the image first); returns the stored job.
struct ParsedRequest;  // server/request_json.h
Job submit_job(Context& ctx, const ApiKey& key, ParsedRequest parsed, const std::string& api,
               const std::string& model, int priority, const std::string& webhook_url);
// Cancels a queued or running job; false if it had already finished.
bool cancel_job(Context& ctx, const Job& job);
// Cancels if needed, removes the files, hides the job.
void delete_job(Context& ctx, const Job& job);
// Absolute URL of the job's video, with its capability token.
std::string video_url(const httplib::Request& req, const Job& job);

// --- route groups (one file each) ----------------------------------------------------------------
void register_queue_routes(httplib::Server& http, Context& ctx);
void register_openai_routes(httplib::Server& http, Context& ctx);
void register_prompt_routes(httplib::Server& http, Context& ctx);
void register_file_routes(httplib::Server& http, Context& ctx);
void register_ui_routes(httplib::Server& http, Context& ctx);

// The OpenAPI 3 document for every route above.
json openapi_document();

}  // namespace canter::server
