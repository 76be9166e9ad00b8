// canter serve --tls-cert/--tls-key against a real process: HTTPS with a self-signed certificate
// the test makes (openssl CLI, subjectAltName IP:127.0.0.1) verified by httplib's SSLClient, URLs
// in responses are https://, plain HTTP on the same port gets no answer, and bad flags or files
// stop the server at startup with a message naming them.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "server/serve_fixture.h"
#include "test_util.h"

namespace canter::testing {
namespace {

using nlohmann::json;

struct CertFiles {
    std::string cert, key;
};

// A self-signed certificate for 127.0.0.1 in `dir` (empty paths when there is no openssl CLI).
CertFiles make_cert(const std::string& dir, const std::string& name) {
    CertFiles f{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
    std::string out;
    const int rc = run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
                               " -addext subjectAltName=IP:127.0.0.1 -keyout '" + f.key + "' -out '" + f.cert + "'",
                               &out);
    if (rc != 0) return {};
    return f;
}

// Trusts only `ca_file`, and checks the server's name (the IP) against it.
void trust_only(httplib::SSLClient& c, const std::string& ca_file) {
    c.set_ca_cert_path(ca_file.c_str());
    c.enable_server_certificate_verification(true);
    c.set_read_timeout(60);
}

TEST(ServeTls, HttpsServesVerifiedAndReturnsHttpsUrls) {
    const std::string dir = temp_dir("serve_tls");
    const CertFiles tls = make_cert(dir, "server");
    if (tls.cert.empty()) GTEST_SKIP() << "no openssl CLI to make a test certificate (Debian: openssl)";
    const std::string data = temp_dir("serve_tls_data");
    ServeProcess s(data, {"--tls-cert", tls.cert, "--tls-key", tls.key});
    ASSERT_GT(s.port(), 0) << s.log();
    EXPECT_EQ(s.url().rfind("https://127.0.0.1:", 0), 0u) << s.log();

    httplib::SSLClient c("127.0.0.1", s.port());
    trust_only(c, tls.cert);
    auto health = c.Get("/health");
    ASSERT_TRUE(health) << httplib::to_string(health.error()) << " (verify result "
                        << c.get_openssl_verify_result() << ")";
    EXPECT_EQ(health->status, 200);

    // Every URL the server hands out names https.
    const httplib::Headers auth = {{"Authorization", "Key " + create_key(data, "tls")}};
    const json job = {{"prompt", "a lantern"}, {"duration", 1}, {"steps", 1}, {"resolution", "256p"}};
    auto sub = c.Post("/v1/queue/canter", auth, job.dump(), "application/json");
    ASSERT_TRUE(sub);
    ASSERT_EQ(sub->status, 200) << sub->body;
    const json submitted = json::parse(sub->body);
    const std::string id = submitted["request_id"];
    for (const char* k : {"status_url", "response_url", "cancel_url"})
        EXPECT_EQ(submitted[k].get<std::string>().rfind(s.url() + "/v1/queue/canter/requests/" + id, 0), 0u)
            << k;
    json status;
    for (int i = 0; i < 3000; ++i) {
        auto r = c.Get(("/v1/queue/canter/requests/" + id + "/status").c_str(), auth);
        ASSERT_TRUE(r);
        status = json::parse(r->body);
        if (status["status"] == "COMPLETED") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_EQ(status["status"], "COMPLETED") << status.dump();
    ASSERT_FALSE(status.contains("error_type")) << status.dump();
    auto result = c.Get(("/v1/queue/canter/requests/" + id).c_str(), auth);
    ASSERT_TRUE(result);
    const std::string url = json::parse(result->body)["video"]["url"];
    ASSERT_EQ(url.rfind(s.url() + "/v1/files/" + id + "/", 0), 0u) << url;
    auto file = c.Get(url.substr(s.url().size()).c_str());
    ASSERT_TRUE(file);
    EXPECT_EQ(file->status, 200);
    EXPECT_EQ(file->body.substr(4, 4), "ftyp");
    auto video = c.Get(("/v1/videos/" + id).c_str(), auth);
    ASSERT_TRUE(video);
    EXPECT_EQ(json::parse(video->body)["url"].get<std::string>().rfind("https://", 0), 0u)
        << video->body;

    // Verification is real: a client that trusts only another certificate refuses the server.
    const CertFiles other = make_cert(dir, "other");
    httplib::SSLClient stranger("127.0.0.1", s.port());
    trust_only(stranger, other.cert);
    auto refused = stranger.Get("/health");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), httplib::Error::SSLServerVerification);

    // Plain HTTP on the TLS port gets no HTTP response (the server wants a TLS handshake).
    httplib::Client plain("127.0.0.1", s.port());
    plain.set_read_timeout(10);
    auto http = plain.Get("/health");
    EXPECT_FALSE(http) << "plain HTTP answered with status " << http->status;
}

TEST(ServeTls, BadFlagsOrFilesFailAtStartupNamingThem) {
    const std::string dir = temp_dir("serve_tls_bad");
    const CertFiles tls = make_cert(dir, "server");
    if (tls.cert.empty()) GTEST_SKIP() << "no openssl CLI to make a test certificate (Debian: openssl)";
    const CertFiles other = make_cert(dir, "other");
    const std::string garbage = dir + "/garbage.pem";
    std::ofstream(garbage) << "not a certificate\n";
    struct Case {
        std::string flags, names;
        int exit_status;
    };
    const Case cases[] = {
        {"--tls-cert '" + tls.cert + "'", "--tls-key", 2},
        {"--tls-key '" + tls.key + "'", "--tls-cert", 2},
        {"--tls-cert '" + dir + "/missing.crt' --tls-key '" + tls.key + "'", dir + "/missing.crt", 3},
        {"--tls-cert '" + tls.cert + "' --tls-key '" + dir + "'", "--tls-key " + dir, 2},  // a folder
        {"--tls-cert '" + garbage + "' --tls-key '" + tls.key + "'", "--tls-cert " + garbage, 4},
        {"--tls-cert '" + tls.cert + "' --tls-key '" + garbage + "'", "--tls-key " + garbage, 4},
        {"--tls-cert '" + tls.cert + "' --tls-key '" + other.key + "'", "--tls-key " + other.key, 4},
    };
    for (const Case& c : cases) {
        std::string out;
        // `timeout` guards against a server that starts anyway.
        const int rc = run_command("timeout 120 '" + canter_binary() + "' serve --data '" + dir +
                                       "/data' --host 127.0.0.1 --port 0 " + c.flags,
                                   &out);
        EXPECT_EQ(rc, c.exit_status) << c.flags << "\n" << out;
        EXPECT_NE(out.find(c.names), std::string::npos) << c.flags << "\n" << out;
        EXPECT_EQ(out.find("listening on"), std::string::npos) << out;
    }
}

}  // namespace
}  // namespace canter::testing
