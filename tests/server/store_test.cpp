// Job and key store against an in-memory SQLite: charging, quotas, FIFO per priority, cancel,
// refunds, restart recovery. No engine, no HTTP.
#include <gtest/gtest.h>

#include <set>

#include "canter/error.h"
#include "server/api_error.h"
#include "server/auth/key_store.h"
#include "server/auth/rate_limit.h"
#include "server/auth/sha256.h"
#include "server/store/db.h"
#include "server/store/files.h"
#include "server/store/job_store.h"
#include "server/store/schema.h"

namespace canter::server {
namespace {

struct Stores {
    Db db{":memory:"};
    KeyStore keys{db};
    JobStore jobs{db};
    Stores() { migrate(db); }
};

int status_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const ApiError& e) {
        return e.status;
    }
    return 0;
}

NewJob job_for(int64_t key, int64_t cost = 5, int priority = 0) {
    NewJob j;
    j.key_id = key;
    j.cost = cost;
    j.priority = priority;
    j.request_json = "{\"prompt\":\"x\"}";
    return j;
}

TEST(ServerSha256, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    EXPECT_EQ(random_hex(16).size(), 32u);
    EXPECT_NE(random_hex(16), random_hex(16));
}

TEST(ServerKeyStore, CreateFindRevokeStoresOnlyTheHash) {
    Stores s;
    std::string secret;
    const ApiKey k = s.keys.create("alice", kTrialCredits, &secret);
    EXPECT_EQ(k.credits, kTrialCredits);
    EXPECT_EQ(secret.rfind("ck_", 0), 0u);
    auto found = s.keys.find_by_secret(secret);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, k.id);
    EXPECT_FALSE(s.keys.find_by_secret(secret + "x"));
    // The secret itself is nowhere in the table.
    for (const auto& row : s.db.query("SELECT * FROM api_keys"))
        for (const auto& v : row.values)
            if (auto p = std::get_if<std::string>(&v)) EXPECT_EQ(p->find(secret), std::string::npos);
    s.keys.revoke("alice");
    EXPECT_TRUE(s.keys.find_by_secret(secret)->revoked);
    EXPECT_THROW(s.keys.revoke("nobody"), canter::Error);
}

TEST(ServerJobStore, SubmitChargesAndFailureRefunds) {
    Stores s;
    const auto key = s.keys.create("k", 12, nullptr);
    const Job a = s.jobs.submit(job_for(key.id, 5), {});
    EXPECT_EQ(a.status, JobStatus::kQueued);
    EXPECT_EQ(s.keys.get(key.id)->credits, 7);
    auto claimed = s.jobs.claim_next("w");
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->status, JobStatus::kRunning);
    EXPECT_EQ(claimed->attempts, 1);
    EXPECT_TRUE(s.jobs.finish_unsuccessful(a.id, JobStatus::kFailed, "boom"));
    EXPECT_FALSE(s.jobs.finish_unsuccessful(a.id, JobStatus::kFailed, "boom"));  // refunds once only
    EXPECT_EQ(s.keys.get(key.id)->credits, 12);
    EXPECT_EQ(s.jobs.get(a.id)->error, "boom");
}

TEST(ServerKeyStore, RolesDefaultToUserAndAreStored) {
    Stores s;
    EXPECT_EQ(s.keys.create("u", 1, nullptr).role, "user");
    const auto admin = s.keys.create("a", 1, nullptr, "admin");
    EXPECT_EQ(s.keys.get(admin.id)->role, "admin");
    try {
        s.keys.create("x", 1, nullptr, "root");
        ADD_FAILURE() << "role 'root' accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--role must be user or admin"), std::string::npos) << e.what();
    }
}

// A version-1 database (no roles) gains the column on open; its keys become users.
TEST(ServerKeyStore, Version1DatabaseMigratesToRoles) {
    Db db(":memory:");
    db.exec("CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, prefix TEXT NOT NULL,"
            " key_hash TEXT NOT NULL UNIQUE, credits INTEGER NOT NULL, created_at REAL NOT NULL, revoked_at REAL);"
            "INSERT INTO api_keys(name, prefix, key_hash, credits, created_at) VALUES('old', 'ck_x', 'h', 3, 0);"
            "PRAGMA user_version = 1;");
    migrate(db);
    KeyStore keys(db);
    ASSERT_EQ(keys.list().size(), 1u);
    EXPECT_EQ(keys.list()[0].role, "user");
    EXPECT_EQ(db.query_one("PRAGMA user_version")->i("user_version"), kSchemaVersion);
}

// State changes are guarded by the current status: only a running job can finish, once.
TEST(ServerJobStore, OnlyARunningJobFinishesAndOnlyOnce) {
    Stores s;
    const auto key = s.keys.create("k", 100, nullptr);
    const Job queued = s.jobs.submit(job_for(key.id, 5), {});
    EXPECT_FALSE(s.jobs.complete(queued.id, "{}"));  // never claimed
    EXPECT_FALSE(s.jobs.finish_unsuccessful(queued.id, JobStatus::kFailed, "x"));
    EXPECT_EQ(s.jobs.get(queued.id)->status, JobStatus::kQueued);
    ASSERT_TRUE(s.jobs.claim_next("w"));
    EXPECT_TRUE(s.jobs.complete(queued.id, "{\"seed\":1}"));
    // A late failure or cancel of a finished job neither changes it nor refunds it.
    EXPECT_FALSE(s.jobs.finish_unsuccessful(queued.id, JobStatus::kCancelled, "late"));
    EXPECT_FALSE(s.jobs.complete(queued.id, "{\"seed\":2}"));
    const auto done = s.jobs.get(queued.id);
    EXPECT_EQ(done->status, JobStatus::kSucceeded);
    EXPECT_EQ(done->result_json, "{\"seed\":1}");
    EXPECT_EQ(s.keys.get(key.id)->credits, 95);
    // A cancelled (queued) job cannot be completed afterwards either.
    const Job other = s.jobs.submit(job_for(key.id, 5), {});
    ASSERT_TRUE(s.jobs.cancel_if_queued(other.id));
    EXPECT_FALSE(s.jobs.complete(other.id, "{}"));
    EXPECT_EQ(s.jobs.get(other.id)->status, JobStatus::kCancelled);
    EXPECT_EQ(s.keys.get(key.id)->credits, 95);
}

TEST(ServerJobStore, InsufficientCreditsIs402AndChangesNothing) {
    Stores s;
    const auto key = s.keys.create("k", 4, nullptr);
    EXPECT_EQ(status_of([&] { s.jobs.submit(job_for(key.id, 5), {}); }), 402);
    EXPECT_EQ(s.keys.get(key.id)->credits, 4);
    EXPECT_TRUE(s.jobs.list(key.id, 10).empty());
}

TEST(ServerJobStore, ActiveAndDailyQuotasAre429) {
    Stores s;
    const auto key = s.keys.create("k", 1000, nullptr);
    Quotas q;
    q.max_active = 2;
    q.max_per_day = 3;
    s.jobs.submit(job_for(key.id), q);
    const Job b = s.jobs.submit(job_for(key.id), q);
    EXPECT_EQ(status_of([&] { s.jobs.submit(job_for(key.id), q); }), 429);
    ASSERT_TRUE(s.jobs.cancel_if_queued(b.id));
    s.jobs.submit(job_for(key.id), q);
    ASSERT_TRUE(s.jobs.cancel_if_queued(s.jobs.list(key.id, 1).front().id));
    EXPECT_EQ(status_of([&] { s.jobs.submit(job_for(key.id), q); }), 429);  // 3 today
}

TEST(ServerJobStore, FifoWithinPriorityHigherFirstAndPositions) {
    Stores s;
    const auto key = s.keys.create("k", 1000, nullptr);
    Quotas q;
    q.max_active = 10;
    const Job a = s.jobs.submit(job_for(key.id, 1, 0), q);
    const Job b = s.jobs.submit(job_for(key.id, 1, 0), q);
    const Job c = s.jobs.submit(job_for(key.id, 1, 5), q);
    EXPECT_EQ(s.jobs.queue_position(*s.jobs.get(c.id)), 0);
    EXPECT_EQ(s.jobs.queue_position(*s.jobs.get(a.id)), 1);
    EXPECT_EQ(s.jobs.queue_position(*s.jobs.get(b.id)), 2);
    EXPECT_EQ(s.jobs.claim_next("w")->id, c.id);
    EXPECT_EQ(s.jobs.claim_next("w")->id, a.id);
    EXPECT_EQ(s.jobs.claim_next("w")->id, b.id);
    EXPECT_FALSE(s.jobs.claim_next("w"));
}

TEST(ServerJobStore, CancelQueuedRefundsRunningIsNotCancelledHere) {
    Stores s;
    const auto key = s.keys.create("k", 100, nullptr);
    const Job a = s.jobs.submit(job_for(key.id, 10), {});
    const Job b = s.jobs.submit(job_for(key.id, 10), {});
    s.jobs.claim_next("w");  // a runs
    EXPECT_FALSE(s.jobs.cancel_if_queued(a.id));
    EXPECT_TRUE(s.jobs.cancel_if_queued(b.id));
    EXPECT_EQ(s.jobs.get(b.id)->status, JobStatus::kCancelled);
    EXPECT_EQ(s.keys.get(key.id)->credits, 90);
}

TEST(ServerJobStore, RecoverRequeuesThenFailsWithAReason) {
    Stores s;
    const auto key = s.keys.create("k", 100, nullptr);
    const Job a = s.jobs.submit(job_for(key.id, 10), {});
    s.jobs.claim_next("w");                      // attempt 1, then "crash"
    auto r1 = s.jobs.recover(2);
    ASSERT_EQ(r1.requeued.size(), 1u);
    EXPECT_EQ(s.jobs.get(a.id)->status, JobStatus::kQueued);
    s.jobs.claim_next("w");                      // attempt 2, crash again
    auto r2 = s.jobs.recover(2);
    ASSERT_EQ(r2.failed.size(), 1u);
    const Job after = *s.jobs.get(a.id);
    EXPECT_EQ(after.status, JobStatus::kFailed);
    EXPECT_NE(after.error.find("server stopped"), std::string::npos);
    EXPECT_EQ(s.keys.get(key.id)->credits, 100);  // refunded
}

TEST(ServerJobStore, SchemaSurvivesReopen) {
    const std::string path = ::testing::TempDir() + "/canter_store_reopen.db";
    std::remove(path.c_str());
    std::string id;
    {
        Db db(path);
        migrate(db);
        KeyStore keys(db);
        JobStore jobs(db);
        id = jobs.submit(job_for(keys.create("k", 100, nullptr).id), {}).id;
    }
    Db db(path);
    migrate(db);  // idempotent
    JobStore jobs(db);
    ASSERT_TRUE(jobs.get(id));
    EXPECT_EQ(jobs.get(id)->status, JobStatus::kQueued);
}

TEST(ServerFiles, IdsCannotEscapeTheDataDir) {
    EXPECT_TRUE(is_valid_id("req_0123abcd"));
    for (const char* bad : {"", "..", "../x", "a/b", "a b", "x%2e%2e", "req_\x01"})
        EXPECT_FALSE(is_valid_id(bad)) << bad;
    EXPECT_FALSE(is_valid_id(std::string(65, 'a')));
    JobFiles files(::testing::TempDir() + "/canter_files");
    EXPECT_THROW(files.job_dir("../../etc"), canter::Error);
}

TEST(ServerRateLimit, TokenBucketRefills) {
    RateLimiter r(2);  // 2 per minute
    double retry = 0;
    EXPECT_TRUE(r.allow(1, 0, &retry));
    EXPECT_TRUE(r.allow(1, 0, &retry));
    EXPECT_FALSE(r.allow(1, 0, &retry));
    EXPECT_NEAR(retry, 30, 1e-6);
    EXPECT_TRUE(r.allow(2, 0, &retry));  // per key
    EXPECT_TRUE(r.allow(1, 30, &retry));
}

}  // namespace
}  // namespace canter::server

namespace canter::server {
namespace {

// Retention: only finished jobs older than the cutoff expire, and a deleted one never again.
TEST(ServerJobStore, RetentionExpiresOnlyFinishedJobsOlderThanTheCutoff) {
    Stores s;
    const auto key = s.keys.create("k", 100, nullptr);
    const Job done = s.jobs.submit(job_for(key.id, 1), {});
    ASSERT_TRUE(s.jobs.claim_next("w"));
    s.jobs.complete(done.id, "{}");
    const Job failed = s.jobs.submit(job_for(key.id, 1), {});
    ASSERT_TRUE(s.jobs.claim_next("w"));
    s.jobs.finish_unsuccessful(failed.id, JobStatus::kFailed, "boom");
    const Job running = s.jobs.submit(job_for(key.id, 1), {});
    ASSERT_TRUE(s.jobs.claim_next("w"));
    const Job queued = s.jobs.submit(job_for(key.id, 1), {});

    auto ids = [](const std::vector<Job>& jobs) {
        std::set<std::string> out;
        for (const auto& j : jobs) out.insert(j.id);
        return out;
    };
    EXPECT_TRUE(s.jobs.expired(0).empty());  // nothing finished before the epoch
    const auto all = ids(s.jobs.expired(1e12));
    EXPECT_EQ(all, (std::set<std::string>{done.id, failed.id}));
    EXPECT_FALSE(all.count(running.id));
    EXPECT_FALSE(all.count(queued.id));
    s.jobs.mark_deleted(done.id);
    EXPECT_EQ(ids(s.jobs.expired(1e12)), (std::set<std::string>{failed.id}));
    EXPECT_TRUE(s.jobs.list(key.id, 10).size() == 3u);  // the deleted job is gone from the history
}

}  // namespace
}  // namespace canter::server
