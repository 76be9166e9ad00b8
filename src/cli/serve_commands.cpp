#include "cli/serve_commands.h"

#include <filesystem>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <pthread.h>
#include <unistd.h>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "server/auth/key_store.h"
#include "server/http/server.h"
#include "server/store/db.h"
#include "server/store/schema.h"
#include "util/check.h"

namespace canter::cli {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string part; std::getline(in, part, sep);)
        if (!part.empty()) out.push_back(part);
    return out;
}

double get_double(const Args& args, const std::string& flag, double fallback) {
    const std::string v = args.get(flag);
    if (v.empty()) return fallback;
    try {
        size_t used = 0;
        const double d = std::stod(v, &used);
        if (used == v.size()) return d;
    } catch (const std::exception&) {
    }
    CANTER_THROW(InvalidArgument, "--" << flag << " must be a number, got '" << v << "'");
}

std::string format_time(double t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::gmtime(&tt));
    return buf;
}

}  // namespace

int cmd_serve(const std::vector<std::string>& argv) {
    Args args(argv, {"data", "host", "port", "model", "devices", "http-threads", "retention-hours", "max-active",
                     "daily-jobs", "rate-limit", "max-attempts", "refine-url", "refine-model", "tls-cert", "tls-key",
                     "max-memory", "max-vram", "stream-layers"},
              {"allow-private-webhooks"});
    server::ServeOptions o;
    o.data_dir = args.require("data");
    o.host = args.get("host", o.host);
    o.port = args.get_int("port", o.port);
    CANTER_CHECK(o.port >= 0 && o.port <= 65535, InvalidArgument, "--port must be 0..65535, got " << o.port);
    o.tls_cert = args.get("tls-cert");
    o.tls_key = args.get("tls-key");  // both or neither: checked with the files by Server::start
    o.model_dir = args.get("model");
    if (args.has("devices")) o.devices = split(args.get("devices"), ',');
    o.http_threads = args.get_int("http-threads", o.http_threads);
    o.retention_hours = get_double(args, "retention-hours", o.retention_hours);
    o.quotas.max_active = args.get_int("max-active", o.quotas.max_active);
    o.quotas.max_per_day = args.get_int("daily-jobs", o.quotas.max_per_day);
    o.submit_per_minute = get_double(args, "rate-limit", o.submit_per_minute);
    o.max_attempts = args.get_int("max-attempts", o.max_attempts);
    o.refine_url = args.get("refine-url");
    o.refine_model = args.get("refine-model", "gpt-4o-mini");
    o.allow_private_webhooks = args.has("allow-private-webhooks");
    if (const char* k = std::getenv("CANTER_REFINE_API_KEY")) o.refine_api_key = k;

    // SIGINT/SIGTERM are handled by one thread (sigwait) that stops the server cleanly:
    // running jobs go back to the queue.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);  // our own "stop waiting" below
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    EngineOptions engine_options;
    engine_options.model_dir = o.model_dir;
    engine_options.max_memory = args.get("max-memory");
    engine_options.max_vram = args.get("max-vram");
    engine_options.stream_layers = args.get("stream-layers", engine_options.stream_layers);
    server::Server server(o, server::default_engine_factory(engine_options));
    server.start();
    std::cout << "canter serve: listening on " << (o.tls_cert.empty() ? "http" : "https") << "://" << o.host << ":"
              << server.port() << " (data " << o.data_dir << ")" << std::endl;
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGUSR1) return;
        std::cerr << "canter serve: stopping (signal " << sig << ")\n";
        server.stop();
    });
    server.run();
    server.stop();
    kill(getpid(), SIGUSR1);  // wakes the waiter if it still waits; stays blocked otherwise
    waiter.join();
    return 0;
}

int cmd_keys(const std::vector<std::string>& argv) {
    Args args(argv, {"data", "name", "credits", "role"}, {});
    const auto& pos = args.positional();
    CANTER_CHECK(!pos.empty(), InvalidArgument, "canter keys: expected create, list or revoke");
    const std::string data = args.require("data");
    // `keys create` is the first command a new operator runs: it makes the data folder.
    if (pos[0] == "create") {
        std::error_code ec;
        std::filesystem::create_directories(data, ec);
        CANTER_CHECK(!ec, IO, "--data " << data << ": cannot create the folder (" << ec.message() << ")");
    }
    server::Db db(data + "/canter.db");
    server::migrate(db);
    server::KeyStore keys(db);
    const std::string& what = pos[0];
    if (what == "create") {
        const std::string credits = args.get("credits");
        int64_t c = server::kTrialCredits;
        if (!credits.empty()) {
            CANTER_CHECK(credits.find_first_not_of("0123456789") == std::string::npos && credits.size() < 15,
                         InvalidArgument, "--credits must be a non-negative integer, got '" << credits << "'");
            c = std::stoll(credits);
        }
        std::string secret;
        const auto key = keys.create(args.require("name"), c, &secret, args.get("role", "user"));
        std::cout << "created " << key.role << " key " << key.id << " '" << key.name << "' with " << key.credits
                  << " credits; store it now, it is not shown again:\n"
                  << secret << std::endl;
        return 0;
    }
    if (what == "list") {
        std::printf("%-5s %-24s %-12s %-6s %10s  %-16s %s\n", "id", "name", "prefix", "role", "credits", "created", "state");
        for (const auto& k : keys.list())
            std::printf("%-5lld %-24s %-12s %-6s %10lld  %-16s %s\n", static_cast<long long>(k.id), k.name.c_str(),
                        k.prefix.c_str(), k.role.c_str(), static_cast<long long>(k.credits),
                        format_time(k.created_at).c_str(), k.revoked ? "revoked" : "active");
        return 0;
    }
    if (what == "revoke") {
        CANTER_CHECK(pos.size() == 2 || args.has("name"), InvalidArgument, "canter keys revoke: expected ID or --name NAME");
        const auto key = keys.revoke(pos.size() == 2 ? pos[1] : args.get("name"));
        std::cout << "revoked key " << key.id << " '" << key.name << "'\n";
        return 0;
    }
    CANTER_THROW(InvalidArgument, "canter keys: unknown action '" << what << "' (create, list, revoke)");
}

}  // namespace canter::cli
