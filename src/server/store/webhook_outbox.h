// Durable webhook deliveries: a finished job's webhook is written here in the job's own
// database and sent later by the server's sender thread, never on a generation worker (a slow or
// black-holed receiver must not hold a GPU). A delivery is retried with backoff until it
// succeeds or runs out of attempts; rows survive restarts, so nothing queued is lost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/store/db.h"

namespace canter::server {

struct WebhookDelivery {
    int64_t id = 0;
    std::string job_id, url, body, signature;  // signature: hex HMAC-SHA256 of body
    int attempts = 0;
};

class WebhookOutbox {
public:
    static constexpr int kMaxAttempts = 6;  // 0, 5, 10, 20, 40, 80 s after the job: ~2.5 min
    explicit WebhookOutbox(Db& db) : db_(db) {}

    void enqueue(const std::string& job_id, const std::string& url, const std::string& body,
                 const std::string& signature);
    // Pending deliveries whose time has come, oldest first.
    std::vector<WebhookDelivery> due(double now, int limit = 16);
    void delivered(int64_t id);
    // Records a failed attempt: tried again after a backoff, or given up after kMaxAttempts.
    // Returns false when it gave up.
    bool failed(int64_t id, const std::string& error, double now);
    // For tests and operators: pending (not delivered, not given up) deliveries.
    int64_t pending();

private:
    Db& db_;
};

}  // namespace canter::server
