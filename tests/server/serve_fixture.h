// A real `canter serve` process on 127.0.0.1 (any free port) with the built-in demo model, for
// API tests; plus `canter keys` helpers and an httplib client with a key.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace canter::testing {

class ServeProcess {
public:
    // Starts `canter serve --data data_dir --port 0 <extra>` and waits until it listens (over
    // https when `extra` has --tls-cert/--tls-key).
    ServeProcess(const std::string& data_dir, const std::vector<std::string>& extra = {});
    ~ServeProcess();  // SIGTERM + wait (SIGKILL if it hangs)
    void kill9();     // simulate a crash
    int port() const { return port_; }
    std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }
    std::string log() const;

private:
    pid_t pid_ = -1;
    int port_ = 0;
    std::string scheme_ = "http";
    std::string log_path_;
};

// `canter keys create --name NAME [--credits C] --data DIR`; returns the secret (last line).
std::string create_key(const std::string& data_dir, const std::string& name, int credits = -1,
                       const std::string& role = "");
void revoke_key(const std::string& data_dir, const std::string& name);

struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
    httplib::Headers headers;
};

// JSON-speaking client bound to one key ("" = no Authorization header).
class ApiClient {
public:
    ApiClient(const std::string& url, std::string key, std::string scheme = "Bearer");
    Reply get(const std::string& path);
    Reply post(const std::string& path, const nlohmann::json& body);
    Reply post_raw(const std::string& path, const std::string& body, const std::string& type);
    Reply post_form(const std::string& path, const httplib::MultipartFormDataItems& items);
    Reply put(const std::string& path);
    Reply del(const std::string& path);
    // Polls the queue status until COMPLETED (also failed / cancelled jobs, with error_type) or
    // `timeout_s`; returns the last status.
    nlohmann::json wait_done(const std::string& id, double timeout_s);
    // Polls until status == `status` (e.g. IN_PROGRESS).
    nlohmann::json wait_status(const std::string& id, const std::string& status, double timeout_s);
    // GET as text/event-stream; returns the `data:` payloads until the server ends the stream.
    std::vector<nlohmann::json> stream(const std::string& path);
    httplib::Client& raw() { return client_; }
    const std::string& key() const { return key_; }

private:
    Reply wrap(const httplib::Result& r);
    httplib::Headers auth() const;
    std::string url_;
    httplib::Client client_;
    std::string key_, scheme_;
};

// Path of tests/web (the Python client and browser tests).
std::string web_test_dir();

}  // namespace canter::testing
