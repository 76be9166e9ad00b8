// Webhook signing (HMAC-SHA256, RFC 4231 vectors) and the durable outbox: due order, backoff,
// giving up, delivery, and rows surviving a reopen of the database.
#include <gtest/gtest.h>

#include <string>

#include "server/auth/hmac.h"
#include "server/store/db.h"
#include "server/store/schema.h"
#include "server/store/webhook_outbox.h"
#include "test_util.h"

namespace canter::server {
namespace {

TEST(WebhookSignature, HmacSha256MatchesRfc4231) {
    EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // A key longer than the block is hashed first (test case 6).
    EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(WebhookOutbox, RetriesWithBackoffThenGivesUp) {
    Db db(":memory:");
    migrate(db);
    WebhookOutbox outbox(db);
    outbox.enqueue("req_a", "https://example.com/a", "{\"a\":1}", "sig-a");
    outbox.enqueue("req_b", "https://example.com/b", "{\"b\":1}", "sig-b");
    const double t0 = 1000.0;
    auto due = outbox.due(t0);
    ASSERT_EQ(due.size(), 2u);
    EXPECT_EQ(due[0].job_id, "req_a");
    EXPECT_EQ(due[0].body, "{\"a\":1}");
    EXPECT_EQ(due[0].signature, "sig-a");
    outbox.delivered(due[0].id);
    EXPECT_TRUE(outbox.failed(due[1].id, "HTTP 503", t0));
    EXPECT_TRUE(outbox.due(t0 + 4).empty());  // first backoff: 5 s
    ASSERT_EQ(outbox.due(t0 + 5).size(), 1u);
    double t = t0 + 5;
    int tries = 1;
    while (outbox.failed(due[1].id, "HTTP 503", t)) {
        ++tries;
        EXPECT_TRUE(outbox.due(t + 1).empty() || tries == 1);
        t += 400;  // beyond any backoff
        ASSERT_EQ(outbox.due(t).size(), 1u);
    }
    EXPECT_EQ(tries + 1, WebhookOutbox::kMaxAttempts);  // the last failed() call gave up
    EXPECT_TRUE(outbox.due(t + 1e6).empty());
    EXPECT_EQ(outbox.pending(), 0);
}

TEST(WebhookOutbox, PendingDeliveriesSurviveARestart) {
    const std::string path = testing::temp_dir("outbox") + "/canter.db";
    {
        Db db(path);
        migrate(db);
        WebhookOutbox(db).enqueue("req_x", "https://example.com/x", "{}", "s");
    }
    Db db(path);
    migrate(db);
    WebhookOutbox outbox(db);
    EXPECT_EQ(outbox.pending(), 1);
    ASSERT_EQ(outbox.due(now_seconds()).size(), 1u);
}

}  // namespace
}  // namespace canter::server
