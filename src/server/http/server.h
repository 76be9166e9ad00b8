// canter serve: the HTTP API (queue, OpenAI-style videos, prompt refinement, files, web UI,
// OpenAPI) over the job store and the worker pool. See docs/server.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/queue/worker_pool.h"
#include "server/store/job_store.h"

namespace canter::server {

struct ServeOptions {
    std::string data_dir;
    std::string host = "127.0.0.1";
    int port = 8000;          // 0: any free port (see Server::port())
    std::string tls_cert;     // PEM certificate (chain) and private key: serve HTTPS only;
    std::string tls_key;      // both or neither (empty: plain HTTP)
    std::string model_dir;    // empty: built-in demo model
    std::vector<std::string> devices = {"auto"};  // one worker per entry
    int http_threads = 32;
    double retention_hours = 24 * 7;  // outputs of finished jobs are deleted after this
    Quotas quotas;
    double submit_per_minute = 30;    // per key; 0 = unlimited
    int max_attempts = 2;             // a job interrupted by a crash is retried this often in total
    std::string refine_url;           // OpenAI-compatible base URL for /v1/prompts/refine (optional)
    std::string refine_model;
    std::string refine_api_key;
    // Webhooks to loopback/private/link-local addresses (tests, a trusted LAN): off by default.
    bool allow_private_webhooks = false;
};

class Server {
public:
    Server(ServeOptions options, EngineFactory factory);
    ~Server();
    // Opens the store, recovers interrupted jobs, loads the engines, binds; throws on failure.
    void start();
    int port() const;
    void run();   // serves until stop()
    void stop();  // thread-safe, idempotent

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace canter::server
