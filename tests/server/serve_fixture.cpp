#include "server/serve_fixture.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace canter::testing {

namespace {
std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
std::string quote(const std::string& s) { return "'" + s + "'"; }
}  // namespace

ServeProcess::ServeProcess(const std::string& data_dir, const std::vector<std::string>& extra) {
    static int counter = 0;
    log_path_ = data_dir + "/serve-" + std::to_string(++counter) + ".log";
    std::vector<std::string> args = {canter_binary(), "serve", "--data", data_dir, "--host", "127.0.0.1", "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
        FILE* out = std::fopen(log_path_.c_str(), "w");
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    // Startup includes creating/loading the demo model: allow a few minutes.
    for (int i = 0; i < 3000; ++i) {
        const std::string log = read_file(log_path_);
        for (const std::string scheme : {"http", "https"}) {
            const std::string line = "listening on " + scheme + "://127.0.0.1:";
            const auto at = log.find(line);
            if (at == std::string::npos) continue;
            port_ = std::atoi(log.c_str() + at + line.size());
            scheme_ = scheme;
            return;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            ADD_FAILURE() << "canter serve exited during startup:\n" << log;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "canter serve did not start in 300 s:\n" << read_file(log_path_);
}

ServeProcess::~ServeProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

void ServeProcess::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

std::string ServeProcess::log() const { return read_file(log_path_); }

std::string create_key(const std::string& data_dir, const std::string& name, int credits, const std::string& role) {
    std::string out;
    std::string cmd = quote(canter_binary()) + " keys create --name " + quote(name) + " --data " + quote(data_dir);
    if (credits >= 0) cmd += " --credits " + std::to_string(credits);
    if (!role.empty()) cmd += " --role " + quote(role);
    const int rc = run_command(cmd + " 2>/dev/null", &out);
    EXPECT_EQ(rc, 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out.substr(out.rfind('\n') + 1);
}

void revoke_key(const std::string& data_dir, const std::string& name) {
    std::string out;
    EXPECT_EQ(run_command(quote(canter_binary()) + " keys revoke --name " + quote(name) + " --data " + quote(data_dir), &out), 0)
        << out;
}

ApiClient::ApiClient(const std::string& url, std::string key, std::string scheme)
    : url_(url), client_(url), key_(std::move(key)), scheme_(std::move(scheme)) {
    client_.set_read_timeout(60);
}

httplib::Headers ApiClient::auth() const {
    if (key_.empty()) return {};
    return {{"Authorization", scheme_ + " " + key_}};
}

Reply ApiClient::wrap(const httplib::Result& r) {
    Reply out;
    if (!r) {
        ADD_FAILURE() << "no HTTP response: " << httplib::to_string(r.error());
        return out;
    }
    out.status = r->status;
    out.raw = r->body;
    out.headers = r->headers;
    out.body = nlohmann::json::parse(r->body, nullptr, false);
    return out;
}

Reply ApiClient::get(const std::string& path) { return wrap(client_.Get(path.c_str(), auth())); }
Reply ApiClient::post(const std::string& path, const nlohmann::json& body) {
    return wrap(client_.Post(path.c_str(), auth(), body.dump(), "application/json"));
}
Reply ApiClient::post_raw(const std::string& path, const std::string& body, const std::string& type) {
    return wrap(client_.Post(path.c_str(), auth(), body, type.c_str()));
}
Reply ApiClient::post_form(const std::string& path, const httplib::MultipartFormDataItems& items) {
    return wrap(client_.Post(path.c_str(), auth(), items));
}
Reply ApiClient::put(const std::string& path) { return wrap(client_.Put(path.c_str(), auth(), "", "application/json")); }
Reply ApiClient::del(const std::string& path) { return wrap(client_.Delete(path.c_str(), auth())); }

std::vector<nlohmann::json> ApiClient::stream(const std::string& path) {
    std::vector<nlohmann::json> events;
    std::string buffer;
    httplib::Client sc(url_);
    sc.set_read_timeout(900);
    auto r = sc.Get(path.c_str(), auth(), [&](const char* data, size_t n) {
        buffer.append(data, n);
        for (size_t cut; (cut = buffer.find("\n\n")) != std::string::npos;) {
            const std::string event = buffer.substr(0, cut);
            buffer.erase(0, cut + 2);
            if (event.rfind("data: ", 0) == 0) events.push_back(nlohmann::json::parse(event.substr(6)));
        }
        return true;
    });
    if (!r) ADD_FAILURE() << "stream failed: " << httplib::to_string(r.error());
    return events;
}

nlohmann::json ApiClient::wait_done(const std::string& id, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < end) {
        last = get("/v1/queue/canter/requests/" + id + "/status").body;
        const std::string s = last.value("status", "");
        if (s == "COMPLETED") return last;  // failed and cancelled jobs too (with error_type)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ADD_FAILURE() << "job " << id << " not finished after " << timeout_s << " s: " << last.dump();
    return last;
}

nlohmann::json ApiClient::wait_status(const std::string& id, const std::string& status, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < end) {
        last = get("/v1/queue/canter/requests/" + id + "/status").body;
        if (last.value("status", "") == status) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << id << " never reached " << status << ": " << last.dump();
    return last;
}

std::string web_test_dir() { return CANTER_WEB_TEST_DIR; }

}  // namespace canter::testing
