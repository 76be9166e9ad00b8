#include "server/http/server.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "server/http/context.h"
#include "server/http/webhook.h"
#include "server/auth/hmac.h"
#include "server/store/data_lock.h"
#include "server/store/webhook_outbox.h"
#include "server/store/schema.h"
#include "util/check.h"

namespace canter::server {

struct Server::Impl {
    std::unique_ptr<DataDirLock> lock;  // held from construction: one server per data folder
    std::unique_ptr<Context> ctx;
    EngineFactory factory;
    std::unique_ptr<httplib::Server> http;  // an httplib::SSLServer with --tls-cert/--tls-key
    int port = 0;
    std::thread janitor;
    std::thread webhook_sender;  // delivers the outbox (server/store/webhook_outbox.h)
    std::mutex janitor_mutex;  // guards stopping (with janitor_cv)
    std::condition_variable janitor_cv;
    bool stopping = false;

    void on_finished(const Job& job);
    void sweep();
    void deliver_webhooks();  // one pass over the due outbox rows
    void register_misc();
};

namespace {

// httplib's pool with its threads one nice level step below the workers (nice +5): on a CPU-only
// box a flood of status polls must not starve generation; the polls still get answered.
struct HttpPool : httplib::TaskQueue {
    explicit HttpPool(size_t n) : pool(n) {}
    void enqueue(std::function<void()> fn) override {
        pool.enqueue([fn = std::move(fn)] {
            static thread_local const bool niced =
                setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5) == 0;
            (void)niced;
            fn();
        });
    }
    void shutdown() override { pool.shutdown(); }
    httplib::ThreadPool pool;
};

void check_readable(const std::string& flag, const std::string& path) {
    CANTER_CHECK(std::filesystem::exists(path), NotFound, flag << " " << path << ": no such file");
    CANTER_CHECK(std::filesystem::is_regular_file(path), InvalidArgument,
                 flag << " " << path << ": not a file");
    errno = 0;
    std::ifstream in(path);
    CANTER_CHECK(in.good(), IO, flag << " " << path << ": cannot read it (" << std::strerror(errno) << ")");
}

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
std::string openssl_error() {
    char buf[256] = "no detail";
    if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

// Loads the certificate chain and key into httplib's context; "" or what is wrong, naming the file.
std::string configure_tls(SSL_CTX& ctx, const std::string& cert, const std::string& key) {
    SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1)
        return "--tls-cert " + cert + ": not a PEM certificate (" + openssl_error() + ")";
    if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return "--tls-key " + key + ": not a PEM private key, or not the key of --tls-cert " + cert + " (" +
               openssl_error() + ")";
    if (SSL_CTX_check_private_key(&ctx) != 1)
        return "--tls-key " + key + " is not the private key of --tls-cert " + cert;
    return "";
}
#endif

// Plain HTTP, or HTTPS only when the options name a certificate and key.
std::unique_ptr<httplib::Server> make_http_server(const ServeOptions& o) {
    CANTER_CHECK(o.tls_cert.empty() == o.tls_key.empty(), InvalidArgument,
                 (o.tls_cert.empty() ? "--tls-key needs --tls-cert FILE" : "--tls-cert needs --tls-key FILE"));
    if (o.tls_cert.empty()) return std::make_unique<httplib::Server>();
    check_readable("--tls-cert", o.tls_cert);
    check_readable("--tls-key", o.tls_key);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    std::string error;
    auto https = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
        error = configure_tls(ctx, o.tls_cert, o.tls_key);
        return error.empty();
    });
    CANTER_CHECK(https->is_valid(), Corruption,
                 (error.empty() ? "cannot create a TLS context: " + openssl_error() : error));
    return https;
#else
    CANTER_THROW(Unsupported, "--tls-cert: this build's cpp-httplib has no OpenSSL support");
#endif
}

json webhook_payload(const Job& job, const std::string& base) {
    json body = {{"request_id", job.id}, {"gateway_request_id", job.id},
                 {"status", job.status == JobStatus::kSucceeded ? "OK" : "ERROR"},
                 {"payload", nullptr}, {"error", nullptr}};
    if (job.status == JobStatus::kSucceeded) {
        const json r = json::parse(job.result_json);
        body["payload"] = {{"video", {{"url", base + "/v1/files/" + job.id + "/output.mp4?token=" + job.file_token},
                                      {"content_type", "video/mp4"}}},
                           {"seed", r.value("seed", 0)}, {"timings", r.value("timings_s", json::object())}};
    } else {
        body["error"] = job.error;
    }
    return body;
}

}  // namespace

void Server::Impl::on_finished(const Job& job) {
    if (job.deleted_at > 0) ctx->files.remove(job.id);  // deleted while running
    ctx->live.notify();
    if (job.webhook_url.empty()) return;
    const std::string base = (ctx->options.tls_cert.empty() ? "http://" : "https://") +
                             (ctx->options.host == "0.0.0.0" ? std::string("127.0.0.1") : ctx->options.host) +
                             ":" + std::to_string(port);
    // Written to the outbox and sent by the sender thread: this runs on a generation worker.
    const std::string body = webhook_payload(job, base).dump(-1, ' ', false, json::error_handler_t::replace);
    WebhookOutbox(ctx->db).enqueue(job.id, job.webhook_url, body, hmac_sha256_hex(ctx->keys.key_hash(job.key_id), body));
}

void Server::Impl::deliver_webhooks() {
    WebhookOutbox outbox(ctx->db);
    for (const auto& d : outbox.due(now_seconds())) {
        std::string error;
        if (post_webhook(d.url, d.body, d.signature, ctx->options.allow_private_webhooks, &error)) {
            outbox.delivered(d.id);
        } else if (!outbox.failed(d.id, error, now_seconds())) {
            std::cerr << "canter serve: webhook for " << d.job_id << " to " << d.url << " given up after "
                      << WebhookOutbox::kMaxAttempts << " attempts: " << error << "\n";
        } else {
            std::cerr << "canter serve: webhook for " << d.job_id << " to " << d.url << " failed (will retry): " << error
                      << "\n";
        }
    }
}

void Server::Impl::sweep() {
    const double cutoff = now_seconds() - ctx->options.retention_hours * 3600.0;
    for (const auto& job : ctx->jobs.expired(cutoff)) {
        ctx->files.remove(job.id);
        ctx->jobs.mark_deleted(job.id);
    }
}

void Server::Impl::register_misc() {
    http->Get("/health", guarded([this](const httplib::Request&, httplib::Response& res) {
        const ModelInfo info = ctx->workers->model_info();
        const auto depth = ctx->db.query_one("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'")->i("n");
        const auto running = ctx->db.query_one("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'")->i("n");
        send_json(res, 200, {{"status", "ok"},
                             {"model", {{"name", info.name}, {"demo", info.demo}, {"resolutions", info.resolutions}}},
                             {"workers", ctx->workers->size()}, {"queued", depth}, {"running", running}});
    }));
    http->Get("/openapi.json", guarded([](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, openapi_document());
    }));
    http->Get("/v1/me", guarded([this](const httplib::Request& req, httplib::Response& res) {
        const ApiKey key = authenticate(*ctx, req);
        const auto& q = ctx->options.quotas;
        send_json(res, 200, {{"name", key.name}, {"key_prefix", key.prefix}, {"role", key.role}, {"credits", key.credits},
                             {"quotas", {{"max_active_jobs", q.max_active}, {"max_jobs_per_day", q.max_per_day},
                                         {"submissions_per_minute", ctx->options.submit_per_minute}}},
                             {"prices", {{"256p", 1}, {"540p", 4}, {"1080p", 16}}},
                             {"price_unit", "credits per second of video"}});
    }));
}

Server::Server(ServeOptions options, EngineFactory factory) : impl_(std::make_unique<Impl>()) {
    CANTER_CHECK(!options.data_dir.empty(), InvalidArgument, "--data DIR is required");
    std::filesystem::create_directories(options.data_dir);
    impl_->lock = std::make_unique<DataDirLock>(options.data_dir);  // before the store is touched
    impl_->ctx = std::make_unique<Context>(std::move(options));
    impl_->factory = std::move(factory);
}

Server::~Server() { stop(); }

void Server::start() {
    Impl& s = *impl_;
    Context& ctx = *s.ctx;
    s.http = make_http_server(ctx.options);  // first: a bad certificate fails before the engines load
    migrate(ctx.db);
    const RecoveryReport rec = ctx.jobs.recover(ctx.options.max_attempts);
    for (const auto& id : rec.requeued) std::cerr << "canter serve: re-queued " << id << " (was running when the server stopped)\n";
    for (const auto& id : rec.failed) std::cerr << "canter serve: failed " << id << " (interrupted too often)\n";

    ctx.workers = std::make_unique<WorkerPool>(ctx.jobs, ctx.live, ctx.files, s.factory, ctx.options.devices,
                                               [&s](const Job& job) { s.on_finished(job); });
    ctx.workers->start();

    const int threads = std::max(4, ctx.options.http_threads);
    s.http->new_task_queue = [threads] { return new HttpPool(static_cast<size_t>(threads)); };
    s.http->set_payload_max_length(16u << 20);
    s.http->set_keep_alive_max_count(1000);
    s.http->set_tcp_nodelay(true);  // headers and body go out as separate writes: no Nagle + delayed-ACK 40 ms stalls
    s.http->set_read_timeout(30);
    s.http->set_write_timeout(30);
    register_queue_routes(*s.http, ctx);
    register_openai_routes(*s.http, ctx);
    register_prompt_routes(*s.http, ctx);
    register_file_routes(*s.http, ctx);
    register_ui_routes(*s.http, ctx);
    s.register_misc();
    s.http->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler already wrote a JSON error
        if (res.status == 404) send_error(res, 404, "no_route", "no route for " + req.method + " " + req.path);
        else if (res.status == 413) send_error(res, 413, "payload_too_large", "request body larger than 16 MiB");
        else send_error(res, res.status, "http_error", "HTTP " + std::to_string(res.status));
    });
    s.http->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_internal_error(res, req, what);
    });

    if (ctx.options.port == 0) s.port = s.http->bind_to_any_port(ctx.options.host);
    else s.port = s.http->bind_to_port(ctx.options.host, ctx.options.port) ? ctx.options.port : -1;
    CANTER_CHECK(s.port > 0, IO, "cannot listen on " << ctx.options.host << ":" << ctx.options.port);

    s.sweep();
    s.janitor = std::thread([&s] {
        std::unique_lock<std::mutex> lock(s.janitor_mutex);
        while (!s.janitor_cv.wait_for(lock, std::chrono::seconds(60), [&s] { return s.stopping; })) {
            lock.unlock();
            try { s.sweep(); } catch (const std::exception& e) { std::cerr << "canter serve: retention: " << e.what() << "\n"; }
            lock.lock();
        }
    });
    // Webhooks: the due outbox rows, every second (a finished job's webhook leaves within ~1 s).
    s.webhook_sender = std::thread([&s] {
        std::unique_lock<std::mutex> lock(s.janitor_mutex);
        do {
            lock.unlock();
            try { s.deliver_webhooks(); } catch (const std::exception& e) { std::cerr << "canter serve: webhooks: " << e.what() << "\n"; }
            lock.lock();
        } while (!s.janitor_cv.wait_for(lock, std::chrono::seconds(1), [&s] { return s.stopping; }));
    });
}

int Server::port() const { return impl_->port; }

void Server::run() { impl_->http->listen_after_bind(); }

void Server::stop() {
    Impl& s = *impl_;
    {
        std::lock_guard<std::mutex> lock(s.janitor_mutex);
        if (s.stopping) return;
        s.stopping = true;
    }
    s.janitor_cv.notify_all();
    s.ctx->stopping = true;
    s.ctx->live.notify();
    if (s.http) s.http->stop();
    if (s.ctx->workers) s.ctx->workers->stop();
    s.ctx->live.notify();
    if (s.janitor.joinable()) s.janitor.join();
    if (s.webhook_sender.joinable()) s.webhook_sender.join();
}

}  // namespace canter::server
