// Webhook destinations: only public addresses unless the operator allows private ones (SSRF).
#include <gtest/gtest.h>

#include <string>

#include "canter/error.h"
#include "serve_fixture.h"
#include "server/http/webhook_target.h"
#include "test_util.h"

namespace canter::server {
namespace {

TEST(WebhookTarget, NonPublicAddressesAreRecognised) {
    for (const char* a : {"127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                          "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                          "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                          "64:ff9b::a00:1", "not-an-address"})
        EXPECT_TRUE(is_non_public_address(a)) << a;
    for (const char* a : {"93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"})
        EXPECT_FALSE(is_non_public_address(a)) << a;
}

TEST(WebhookTarget, ParsesAndRefusesPrivateTargetsUnlessAllowed) {
    const auto t = resolve_webhook_target("https://93.184.216.34:8443/hooks/x?y=1", false);
    EXPECT_EQ(t.scheme, "https");
    EXPECT_EQ(t.host, "93.184.216.34");
    EXPECT_EQ(t.port, 8443);
    EXPECT_EQ(t.path, "/hooks/x?y=1");
    ASSERT_EQ(t.addresses.size(), 1u);
    EXPECT_EQ(resolve_webhook_target("http://[2606:4700::1111]/h", false).port, 80);

    for (const char* url : {"http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.5/", "http://[::1]:80/",
                            "http://169.254.169.254/latest/meta-data/", "http://[::ffff:192.168.0.1]/"}) {
        const std::string e = testing::error_of([&] { resolve_webhook_target(url, false); });
        EXPECT_NE(e.find("--allow-private-webhooks"), std::string::npos) << url << ": " << e;
        EXPECT_EQ(testing::error_of([&] { resolve_webhook_target(url, true); }), "") << url;
    }
    EXPECT_NE(testing::error_of([] { resolve_webhook_target("file:///etc/passwd", true); }).find("http(s)"),
              std::string::npos);
    EXPECT_NE(testing::error_of([] { resolve_webhook_target("http://user:pw@93.184.216.34/", true); }).find("credentials"),
              std::string::npos);
    EXPECT_NE(testing::error_of([] { resolve_webhook_target("http://93.184.216.34:99999/", true); }).find("port"),
              std::string::npos);
    EXPECT_NE(testing::error_of([] { resolve_webhook_target("http://no-such-host.invalid/", true); }).find("cannot resolve"),
              std::string::npos);
}

// End to end: a server without --allow-private-webhooks refuses such a webhook at submission
// with a 422 naming webhook_url, and charges nothing.
TEST(WebhookTarget, ServerRefusesPrivateWebhooksAtSubmission) {
    const std::string data = testing::temp_dir("webhook-ssrf");
    testing::ServeProcess server(data);
    ASSERT_GT(server.port(), 0) << server.log();
    testing::ApiClient c(server.url(), testing::create_key(data, "ssrf", 50));
    nlohmann::json job = {{"prompt", "x"}, {"duration", 1}, {"steps", 1}};
    for (const std::string url : {"http://127.0.0.1:1/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"}) {
        job["webhook_url"] = url;
        const auto r = c.post("/v1/queue/canter", job);
        EXPECT_EQ(r.status, 422) << url << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["param"], "webhook_url") << r.raw;
    }
    const auto fal = c.post("/v1/queue/canter?fal_webhook=http://10.0.0.1/hook", {{"prompt", "x"}, {"duration", 1}});
    EXPECT_EQ(fal.status, 422) << fal.raw;
    EXPECT_EQ(c.get("/v1/me").body["credits"], 50);
}

}  // namespace
}  // namespace canter::server
