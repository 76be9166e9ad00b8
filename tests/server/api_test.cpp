// API tests against a real `canter serve` on 127.0.0.1 running the built-in demo model:
// queue API, SSE, cancel, OpenAI-style videos API, files, auth, credits, quotas, bad input,
// webhooks, prompt refinement, OpenAPI coverage and the web page.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "server/auth/hmac.h"
#include "server/auth/sha256.h"
#include "server/serve_fixture.h"
#include "test_util.h"

namespace canter::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A valid 32x32 RGB PNG (tests/server/data/ref32.png); the engine rejects images too small to crop.
std::string reference_png() {
    std::ifstream in(web_test_dir() + "/../server/data/ref32.png", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
const std::string kTinyPng = reference_png();

// A small job: a 1 s clip, one denoising step, at the demo model's resolution (~10 s on CPU).
json small_job(const std::string& prompt = "a red kite over a beach") {
    return json{{"prompt", prompt}, {"duration", 1}, {"steps", 1}, {"resolution", "256p"}, {"seed", 3}};
}
// A job that runs for minutes on CPU (15 s clip, default steps): something to cancel or kill.
json long_job(const std::string& prompt) {
    return json{{"prompt", prompt}, {"duration", 15}, {"resolution", "256p"}};
}
// As on fal, every finished job is COMPLETED; failed and cancelled ones carry error_type.
bool succeeded(const json& status) { return status["status"] == "COMPLETED" && !status.contains("error_type"); }
bool was_cancelled(const json& status) {
    return status["status"] == "COMPLETED" && status["error_type"] == "client_cancelled" && status["cancelled"] == true;
}

class ServerApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        data_ = new std::string(temp_dir("serve_api"));
        // Loopback webhooks are allowed here: the webhook test listens on 127.0.0.1.
        server_ = new ServeProcess(*data_, {"--rate-limit", "6", "--max-active", "3", "--allow-private-webhooks"});
    }
    static void TearDownTestSuite() {
        delete server_;
        delete data_;
    }
    void SetUp() override { ASSERT_GT(server_->port(), 0) << server_->log(); }
    // A fresh key per test keeps credits, quotas and rate limits independent.
    ApiClient client(int credits = 1000, const std::string& scheme = "Bearer") {
        static int n = 0;
        return ApiClient(server_->url(), create_key(*data_, "user" + std::to_string(++n), credits), scheme);
    }
    static std::string* data_;
    static ServeProcess* server_;
};
std::string* ServerApi::data_ = nullptr;
ServeProcess* ServerApi::server_ = nullptr;

TEST_F(ServerApi, QueueSubmitStatusResultAndFile) {
    ApiClient c = client(1000, "Key");  // the fal client's scheme
    const int credits0 = c.get("/v1/me").body["credits"];
    const Reply sub = c.post("/v1/queue/canter", small_job());
    ASSERT_EQ(sub.status, 200) << sub.raw;
    const std::string id = sub.body["request_id"];
    for (const char* k : {"status_url", "response_url", "cancel_url"})
        EXPECT_EQ(sub.body[k].get<std::string>().rfind(server_->url() + "/v1/queue/canter/requests/" + id, 0), 0u) << k;
    EXPECT_EQ(c.get("/v1/me").body["credits"], credits0 - sub.body["cost"].get<int>());

    const json done = c.wait_done(id, 600);
    ASSERT_TRUE(succeeded(done)) << done.dump();
    EXPECT_TRUE(done["logs"].is_array());
    const Reply res = c.get("/v1/queue/canter/requests/" + id);
    ASSERT_EQ(res.status, 200) << res.raw;
    EXPECT_EQ(res.body["seed"], 3);
    EXPECT_TRUE(res.body["timings"].is_object());
    EXPECT_GT(res.body["width"].get<int>(), 0);
    const std::string url = res.body["video"]["url"];
    // The capability URL works without a key (for <video src>), and serves the whole MP4.
    ApiClient anon(server_->url(), "");
    const Reply file = anon.get(url.substr(server_->url().size()));
    ASSERT_EQ(file.status, 200);
    EXPECT_EQ(static_cast<int64_t>(file.raw.size()), res.body["video"]["file_size"].get<int64_t>());
    EXPECT_EQ(file.raw.substr(4, 4), "ftyp");  // an MP4
    // Range requests (video seeking).
    auto ranged = anon.raw().Get(url.substr(server_->url().size()).c_str(), {{"Range", "bytes=0-3"}});
    ASSERT_TRUE(ranged);
    EXPECT_EQ(ranged->status, 206);
    EXPECT_EQ(ranged->body.size(), 4u);
}

TEST_F(ServerApi, StatusStreamSendsProgressUntilDone) {
    ApiClient c = client();
    const std::string id = c.post("/v1/queue/canter", small_job("a lighthouse at night")).body["request_id"];
    const auto events = c.stream("/v1/queue/canter/requests/" + id + "/status/stream");
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["status"], "COMPLETED") << events.back().dump();
    bool saw_progress = false;
    double last_fraction = 0;
    for (const auto& e : events)
        if (e["status"] == "IN_PROGRESS" && e.contains("progress")) {
            saw_progress = true;
            EXPECT_GE(e["progress"]["fraction"].get<double>() + 1e-9, last_fraction);
            last_fraction = e["progress"]["fraction"];
        }
    EXPECT_TRUE(saw_progress) << events.size() << " events";
    ApiClient stranger = client();
    EXPECT_EQ(stranger.get("/v1/queue/canter/requests/" + id + "/status/stream").status, 404);
}

TEST_F(ServerApi, CancelStopsAnInFlightJobAndRefunds) {
    ApiClient c = client(1000);
    const int credits0 = c.get("/v1/me").body["credits"];
    const std::string id = c.post("/v1/queue/canter", long_job("a long parade")).body["request_id"];
    c.wait_status(id, "IN_PROGRESS", 600);
    const Reply cancel = c.put("/v1/queue/canter/requests/" + id + "/cancel");
    EXPECT_EQ(cancel.status, 202) << cancel.raw;
    const auto t0 = std::chrono::steady_clock::now();
    const json done = c.wait_done(id, 300);
    EXPECT_TRUE(was_cancelled(done)) << done.dump();
    std::cout << "cancel took effect after "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    EXPECT_EQ(c.get("/v1/me").body["credits"], credits0);
    // fal's code for a cancelled request (not 409, which fal clients retry), with its error_type.
    const Reply result = c.get("/v1/queue/canter/requests/" + id);
    EXPECT_EQ(result.status, 499) << result.raw;
    EXPECT_EQ(result.body["error_type"], "client_cancelled") << result.raw;
    const auto type = result.headers.find("X-Fal-Error-Type");
    EXPECT_TRUE(type != result.headers.end() && type->second == "client_cancelled");
    EXPECT_EQ(c.put("/v1/queue/canter/requests/" + id + "/cancel").status, 400);  // already finished
}

TEST_F(ServerApi, QueuedJobsCancelAtOnceAndKeepFifoPositions) {
    ApiClient c = client(1000);
    // Occupy the worker, then queue two more.
    const std::string a = c.post("/v1/queue/canter", long_job("first")).body["request_id"];
    const Reply b = c.post("/v1/queue/canter", small_job("second"));
    const Reply d = c.post("/v1/queue/canter", small_job("third"));
    ASSERT_EQ(d.status, 200) << d.raw;
    // Positions read at submission can shift when the worker claims the first job in between, so
    // compare both as they are now: FIFO means the earlier job is ahead while both wait.
    const auto position = [&](const Reply& r) {
        const json st = c.get("/v1/queue/canter/requests/" + r.body["request_id"].get<std::string>() + "/status").body;
        return st.value("queue_position", -1);
    };
    const int pb = position(b), pd = position(d);
    if (pb >= 0 && pd >= 0) EXPECT_LT(pb, pd);
    else EXPECT_GE(pd, 0) << "the later job started before the earlier one";
    const json st = c.get("/v1/queue/canter/requests/" + d.body["request_id"].get<std::string>() + "/status").body;
    EXPECT_TRUE(st["status"] == "IN_QUEUE" || st["status"] == "IN_PROGRESS") << st.dump();
    // The queued ones first, while the first job still holds the worker: they end at once. (Cancelling
    // the running one first would free the worker, which could claim the next before its cancel.)
    for (const std::string& id : {d.body["request_id"].get<std::string>(), b.body["request_id"].get<std::string>()}) {
        c.put("/v1/queue/canter/requests/" + id + "/cancel");
        EXPECT_TRUE(was_cancelled(c.get("/v1/queue/canter/requests/" + id + "/status").body)) << id;
    }
    c.put("/v1/queue/canter/requests/" + a + "/cancel");
    EXPECT_TRUE(was_cancelled(c.wait_done(a, 300))) << "the running job stops at its next step";
}

TEST_F(ServerApi, OpenAiVideosLifecycle) {
    ApiClient c = client();
    httplib::MultipartFormDataItems form = {
        {"prompt", "a paper boat on a stream", "", ""}, {"model", "canter", "", ""}, {"seconds", "1", "", ""},
        {"steps", "1", "", ""},
        {"size", "448x256", "", ""}, {"input_reference", kTinyPng, "ref.png", "image/png"}};
    const Reply created = c.post_form("/v1/videos", form);
    ASSERT_EQ(created.status, 200) << created.raw;
    EXPECT_EQ(created.body["object"], "video");
    const std::string id = created.body["id"];
    EXPECT_TRUE(created.body["status"] == "queued" || created.body["status"] == "in_progress");
    c.wait_done(id, 600);
    const Reply got = c.get("/v1/videos/" + id);
    ASSERT_EQ(got.body["status"], "completed") << got.raw;
    EXPECT_EQ(got.body["progress"], 100);
    const Reply list = c.get("/v1/videos?limit=10");
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.body["object"], "list");
    EXPECT_EQ(list.body["data"][0]["id"], id);
    const Reply content = c.get("/v1/videos/" + id + "/content");
    ASSERT_EQ(content.status, 200);
    EXPECT_EQ(content.raw.substr(4, 4), "ftyp");
    const std::string url = got.body["url"];
    const Reply del = c.del("/v1/videos/" + id);
    EXPECT_EQ(del.status, 200);
    EXPECT_EQ(del.body["deleted"], true);
    EXPECT_EQ(c.get("/v1/videos/" + id).status, 404);
    EXPECT_EQ(ApiClient(server_->url(), "").get(url.substr(server_->url().size())).status, 404);
    EXPECT_FALSE(fs::exists(*data_ + "/jobs/" + id));
    // Unknown model / bad size are 400 like OpenAI.
    EXPECT_EQ(c.post("/v1/videos", json{{"prompt", "x"}, {"model", "sora-2"}}).status, 400);
    EXPECT_EQ(c.post("/v1/videos", json{{"prompt", "x"}, {"size", "big"}}).status, 400);
    EXPECT_EQ(c.post("/v1/videos", json{{"prompt", "x"}, {"seconds", "99"}}).status, 400);
}

TEST_F(ServerApi, AuthenticationAndIsolation) {
    ApiClient owner = client();
    const Reply sub = owner.post("/v1/queue/canter", small_job("private"));
    ASSERT_EQ(sub.status, 200);
    const std::string id = sub.body["request_id"];
    ApiClient none(server_->url(), "");
    ApiClient wrong(server_->url(), "ck_not_a_key");
    EXPECT_EQ(none.get("/v1/me").status, 401);
    EXPECT_EQ(none.post("/v1/queue/canter", small_job()).status, 401);
    EXPECT_EQ(wrong.get("/v1/videos").status, 401);
    EXPECT_EQ(wrong.get("/v1/videos").body["error"]["code"], "invalid_api_key");
    ApiClient other = client();
    for (const std::string& path : {"/v1/queue/canter/requests/" + id + "/status", "/v1/queue/canter/requests/" + id,
                                   "/v1/videos/" + id, "/v1/videos/" + id + "/content", "/v1/files/" + id + "/output.mp4"})
        EXPECT_EQ(other.get(path).status, 404) << path;
    EXPECT_EQ(other.put("/v1/queue/canter/requests/" + id + "/cancel").status, 404);
    EXPECT_EQ(other.del("/v1/videos/" + id).status, 404);
    EXPECT_TRUE(other.get("/v1/videos").body["data"].empty());
    owner.wait_done(id, 600);
    EXPECT_EQ(none.get("/v1/files/" + id + "/output.mp4?token=0123456789abcdef0123456789abcdef").status, 404);
    // Revoked keys are refused with 403.
    create_key(*data_, "to-revoke");
    const std::string secret = create_key(*data_, "revoked-user");
    revoke_key(*data_, "revoked-user");
    const Reply revoked = ApiClient(server_->url(), secret).get("/v1/me");
    EXPECT_EQ(revoked.status, 403);
    EXPECT_EQ(revoked.body["error"]["code"], "revoked_api_key");
}

TEST_F(ServerApi, CreditsQuotasAndRateLimits) {
    ApiClient poor = client(1);
    const Reply r402 = poor.post("/v1/queue/canter", long_job("x"));
    EXPECT_EQ(r402.status, 402) << r402.raw;
    EXPECT_EQ(r402.body["error"]["code"], "insufficient_credits");
    // --max-active 3: the fourth concurrent job is refused; --rate-limit 6/min: the seventh submission.
    ApiClient busy = client(1000);
    std::vector<std::string> ids;
    int status = 200;
    for (int i = 0; i < 4 && status == 200; ++i) {
        const Reply r = busy.post("/v1/queue/canter", long_job("busy"));
        status = r.status;
        if (r.status == 200) ids.push_back(r.body["request_id"]);
        else EXPECT_EQ(r.body["error"]["code"], "too_many_active_jobs") << r.raw;
    }
    EXPECT_EQ(status, 429);
    for (const auto& id : ids) busy.put("/v1/queue/canter/requests/" + id + "/cancel");
    int rate_limited = 0;
    for (int i = 0; i < 4; ++i) {
        const Reply r = busy.post("/v1/queue/canter", json{{"prompt", "x"}, {"duration", 99}});  // invalid: not charged
        if (r.status == 429) ++rate_limited;
    }
    // 3 accepted + 1 refused above, then the invalid ones stop at validation before the limiter.
    EXPECT_EQ(rate_limited, 0);
    for (int i = 0; i < 6; ++i) {
        const Reply r = busy.post("/v1/queue/canter", small_job("rate"));
        if (r.status == 200) busy.put("/v1/queue/canter/requests/" + r.body["request_id"].get<std::string>() + "/cancel");
        if (r.status == 429 && r.body["error"]["code"] == "rate_limited") ++rate_limited;
    }
    EXPECT_GE(rate_limited, 1);
    for (const auto& id : ids) busy.wait_done(id, 300);
}

TEST_F(ServerApi, BadInputIsJson4xxAndNamesTheField) {
    ApiClient c = client();
    struct Case { std::string body; int status; std::string param; };
    const Case cases[] = {
        {"{\"prompt\": \"x\",", 400, ""},
        {"[1,2]", 400, ""},
        {"{\"prompt\": 42}", 422, "prompt"},
        {"{\"prompt\": \"x\", \"duration\": \"long\"}", 422, "duration"},
        {"{\"prompt\": \"x\", \"duration\": 30}", 422, "duration"},
        {"{\"prompt\": \"x\", \"seed\": -1}", 422, "seed"},
        {"{\"prompt\": \"x\", \"generate_audio\": 1}", 422, "generate_audio"},
        {"{\"prompt\": \"x\", \"aspect_ratio\": \"21:9\"}", 422, "aspect_ratio"},
        {"{\"prompt\": \"x\", \"language\": \"tlh\"}", 422, "language"},
        {"{\"prompt\": \"" + std::string(5000, 'a') + "\"}", 422, "prompt"},
        {"{\"prompt\": \"x\", \"image_url\": \"data:image/png;base64,aGVsbG8gd29ybGQ=\"}", 415, "image_url"},
        {"{\"prompt\": \"x\", \"webhook_url\": \"file:///etc/passwd\"}", 422, "webhook_url"},
    };
    for (const auto& k : cases) {
        const Reply r = c.post_raw("/v1/queue/canter", k.body, "application/json");
        EXPECT_EQ(r.status, k.status) << k.body.substr(0, 60) << " -> " << r.raw;
        ASSERT_TRUE(r.body.is_object()) << r.raw;
        EXPECT_TRUE(r.body["error"]["message"].is_string());
        if (!k.param.empty()) {
            EXPECT_EQ(r.body["error"]["param"], k.param) << r.raw;
        }
    }
    // Oversize uploads.
    const std::string big_png = kTinyPng + std::string(11 << 20, '\0');
    EXPECT_EQ(c.post_form("/v1/videos", {{"prompt", "x", "", ""}, {"input_reference", big_png, "a.png", "image/png"}}).status, 413);
    EXPECT_EQ(c.post_form("/v1/videos", {{"prompt", "x", "", ""}, {"input_reference", "#!/bin/sh\necho hi", "a.png", "image/png"}}).status, 415);
    EXPECT_EQ(c.post_raw("/v1/queue/canter", std::string(17 << 20, ' '), "application/json").status, 413);
    // Path traversal in ids and file names.
    for (const std::string& path : {"/v1/queue/canter/requests/..%2F..%2Fcanter.db", "/v1/queue/canter/requests/../../etc/passwd",
                                   "/v1/videos/..%2Fcanter.db/content", "/v1/files/..%2F..%2F/canter.db",
                                   "/v1/files/req_x/..%2F..%2Fcanter.db", "/v1/files/req_x/meta.json", "/v1/queue/other-model/requests/x"}) {
        const Reply r = c.get(path);
        EXPECT_EQ(r.status, 404) << path << " -> " << r.raw;
        EXPECT_TRUE(r.body.is_object()) << path;
    }
    EXPECT_EQ(c.post("/v1/queue/not-canter", small_job()).status, 404);
    EXPECT_EQ(c.get("/v1/videos?limit=abc").status, 400);
    // Invalid UTF-8 anywhere in a body is a 400 naming where (it used to be a 500 from the JSON
    // library when the message echoed the bytes).
    struct Utf8Case { std::string body, type, where; };
    const Utf8Case utf8_cases[] = {
        {"{\"prompt\": \"a\xFF b\"}", "application/json", "at byte 13"},
        {"{\"prompt\": \"x\", \"language\": \"\xC0\xAF\"}", "application/json", "at byte 29"},
        {"\xED\xA0\x80 not json", "text/plain", "at byte 0"},
        {"prompt=\xC3\x28", "application/x-www-form-urlencoded", "at byte 7"},
    };
    for (const auto& k : utf8_cases) {
        const Reply r = c.post_raw("/v1/queue/canter", k.body, k.type);
        EXPECT_EQ(r.status, 400) << r.raw;
        ASSERT_TRUE(r.body.is_object()) << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_utf8") << r.raw;
        EXPECT_NE(r.body["error"]["message"].get<std::string>().find(k.where), std::string::npos) << r.raw;
    }
    const Reply form = c.post_form("/v1/videos", {{"prompt", "bad \xF4\x90\x80\x80", "", ""}, {"seconds", "1", "", ""}});
    EXPECT_EQ(form.status, 400) << form.raw;
    EXPECT_EQ(form.body["error"]["param"], "prompt") << form.raw;
    EXPECT_NE(form.raw.find("invalid UTF-8 at byte 4"), std::string::npos) << form.raw;
    // Nothing stored was harmed: the server still answers and the database is intact.
    EXPECT_EQ(c.get("/health").status, 200);
}

// Only admin keys may jump the queue; everyone else gets a 403 naming the field.
TEST_F(ServerApi, PriorityNeedsAnAdminKey) {
    ApiClient user = client();
    json job = small_job();
    job["priority"] = 5;
    const Reply refused = user.post("/v1/queue/canter", job);
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["param"], "priority") << refused.raw;
    const int credits = user.get("/v1/me").body["credits"];
    EXPECT_EQ(credits, 1000);  // nothing charged
    EXPECT_EQ(user.get("/v1/me").body["role"], "user");

    ApiClient admin(server_->url(), create_key(*data_, "admin1", 1000, "admin"));
    EXPECT_EQ(admin.get("/v1/me").body["role"], "admin");
    const Reply accepted = admin.post("/v1/queue/canter", job);
    ASSERT_EQ(accepted.status, 200) << accepted.raw;
    EXPECT_EQ(admin.wait_done(accepted.body["request_id"], 300)["status"], "COMPLETED");
}

// Delivered from the outbox by the sender thread, signed with HMAC-SHA256 whose key is the hex
// SHA-256 of the client's API key; a failing receiver is retried with backoff.
TEST_F(ServerApi, WebhookIsPostedOnCompletion) {
    httplib::Server hook;
    std::mutex mutex;
    std::vector<json> received;
    std::vector<std::string> signatures, bodies;
    int attempts = 0;
    hook.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mutex);
        if (++attempts == 1) {  // the first attempt fails: the delivery must be retried
            res.status = 503;
            return;
        }
        received.push_back(json::parse(req.body));
        bodies.push_back(req.body);
        signatures.push_back(req.get_header_value("X-Canter-Signature"));
        res.set_content("{}", "application/json");
    });
    const int port = hook.bind_to_any_port("127.0.0.1");
    std::thread t([&] { hook.listen_after_bind(); });
    ApiClient c = client();
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    const Reply sub = c.post("/v1/queue/canter?fal_webhook=" + url, small_job("webhook"));
    ASSERT_EQ(sub.status, 200) << sub.raw;
    c.wait_done(sub.body["request_id"], 600);
    for (int i = 0; i < 300; ++i) {  // first retry after 5 s
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (!received.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    hook.stop();
    t.join();
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0]["request_id"], sub.body["request_id"]);
    EXPECT_EQ(received[0]["status"], "OK");
    EXPECT_TRUE(received[0]["payload"]["video"]["url"].is_string());
    EXPECT_TRUE(received[0]["error"].is_null());
    EXPECT_EQ(attempts, 2);
    EXPECT_EQ(signatures[0], "sha256=" + server::hmac_sha256_hex(server::sha256_hex(c.key()), bodies[0]));
}

TEST_F(ServerApi, PromptRefineBuilder) {
    ApiClient c = client();
    const Reply r = c.post("/v1/prompts/refine", json{{"idea", "two friends argue about tea"}, {"language", "Mandarin"},
                                                      {"dialogue", json::array({{{"speaker", "Li"}, {"text", "Green tea is better."}}})}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["source"], "builder");
    EXPECT_NE(r.body["prompt"].get<std::string>().find("Li (Mandarin): \"Green tea is better.\""), std::string::npos);
    EXPECT_EQ(c.post("/v1/prompts/refine", json{{"idea", 3}}).status, 422);
    EXPECT_EQ(ApiClient(server_->url(), "").post("/v1/prompts/refine", json{{"idea", "x"}}).status, 401);
}

TEST_F(ServerApi, OpenApiDocumentsOnlyRoutesThatExist) {
    ApiClient anon(server_->url(), "");
    const Reply doc = anon.get("/openapi.json");
    ASSERT_EQ(doc.status, 200);
    EXPECT_EQ(doc.body["openapi"], "3.0.3");
    EXPECT_TRUE(doc.body["components"]["schemas"]["GenerateInput"]["properties"].contains("aspect_ratio"));
    int checked = 0;
    for (const auto& [path, ops] : doc.body["paths"].items()) {
        std::string concrete = path;
        for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
                 {"{model}", "canter"}, {"{request_id}", "req_missing"}, {"{video_id}", "req_missing"}}) {
            for (size_t at; (at = concrete.find(from)) != std::string::npos;) concrete.replace(at, from.size(), to);
        }
        for (const auto& [method, op] : ops.items()) {
            httplib::Result r = method == "get"    ? anon.raw().Get(concrete.c_str())
                                : method == "post" ? anon.raw().Post(concrete.c_str(), "{}", "application/json")
                                : method == "put"  ? anon.raw().Put(concrete.c_str(), "", "application/json")
                                                   : anon.raw().Delete(concrete.c_str());
            ASSERT_TRUE(r) << method << " " << concrete;
            const json body = json::parse(r->body, nullptr, false);
            const bool no_route = r->status == 404 && body.is_object() && body.contains("error") &&
                                  body["error"]["code"] == "no_route";
            EXPECT_FALSE(no_route) << method << " " << path << " is documented but not served";
            ++checked;
        }
    }
    EXPECT_GE(checked, 13);
}

TEST_F(ServerApi, WebPageIsServedWithoutExternalResources) {
    ApiClient anon(server_->url(), "");
    auto page = anon.raw().Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("id=\"generate\""), std::string::npos);
    EXPECT_EQ(page->body.find("https://"), std::string::npos);  // no CDN
    for (const char* asset : {"/app.js", "/style.css"}) {
        auto r = anon.raw().Get(asset);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << asset;
        EXPECT_EQ(r->body.find("https://"), std::string::npos) << asset;
    }
}

// kill -9 while a job runs: after a restart the running job is re-queued (or failed with a
// reason), queued jobs are still queued, and finished outputs are intact.
TEST(ServerCrash, KillDuringJobThenRestart) {
    const std::string data = temp_dir("serve_crash");
    const std::string key = create_key(data, "crash", 1000);
    std::string done_id, running_id, queued_id;
    std::string done_file;
    {
        ServeProcess s(data);
        ASSERT_GT(s.port(), 0) << s.log();
        ApiClient c(s.url(), key);
        done_id = c.post("/v1/queue/canter", small_job("finished before the crash")).body["request_id"];
        ASSERT_TRUE(succeeded(c.wait_done(done_id, 600)));
        const std::string url = c.get("/v1/queue/canter/requests/" + done_id).body["video"]["url"];
        done_file = c.get(url.substr(s.url().size())).raw;
        running_id = c.post("/v1/queue/canter", long_job("interrupted")).body["request_id"];
        queued_id = c.post("/v1/queue/canter", small_job("waiting")).body["request_id"];
        c.wait_status(running_id, "IN_PROGRESS", 600);
        s.kill9();
    }
    ServeProcess s(data);
    ASSERT_GT(s.port(), 0) << s.log();
    EXPECT_NE(s.log().find("re-queued " + running_id), std::string::npos) << s.log();
    ApiClient c(s.url(), key);
    const json st = c.get("/v1/queue/canter/requests/" + running_id + "/status").body;
    EXPECT_TRUE(st["status"] == "IN_QUEUE" || st["status"] == "IN_PROGRESS") << st.dump();
    const json queued = c.get("/v1/queue/canter/requests/" + queued_id + "/status").body;
    EXPECT_TRUE(queued["status"] == "IN_QUEUE" || queued["status"] == "IN_PROGRESS") << queued.dump();
    // The finished output survived byte for byte.
    const std::string url = c.get("/v1/queue/canter/requests/" + done_id).body["video"]["url"];
    EXPECT_EQ(c.get(url.substr(s.url().size())).raw, done_file);
    // No partial output of the interrupted job is visible; it runs again to completion.
    EXPECT_FALSE(fs::exists(data + "/jobs/" + running_id + "/output.mp4") &&
                 c.get("/v1/queue/canter/requests/" + running_id + "/status").body["status"] != "COMPLETED");
    c.put("/v1/queue/canter/requests/" + running_id + "/cancel");  // keep the test short
    EXPECT_TRUE(succeeded(c.wait_done(queued_id, 600)));
    EXPECT_TRUE(was_cancelled(c.wait_done(running_id, 600)));
    // Credits: 3 jobs charged once each, the cancelled one refunded.
    const int cost = 1;  // 1 s at 256p
    EXPECT_EQ(c.get("/v1/me").body["credits"], 1000 - cost - cost);
}

}  // namespace
}  // namespace canter::testing
