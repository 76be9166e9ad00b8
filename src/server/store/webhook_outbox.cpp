#include "server/store/webhook_outbox.h"

#include <algorithm>
#include <cmath>

namespace canter::server {

void WebhookOutbox::enqueue(const std::string& job_id, const std::string& url, const std::string& body,
                            const std::string& signature) {
    db_.run("INSERT INTO webhook_outbox(job_id, url, body, signature, attempts, next_at) VALUES(?,?,?,?,0,0)",
            {job_id, url, body, signature});
}

std::vector<WebhookDelivery> WebhookOutbox::due(double now, int limit) {
    std::vector<WebhookDelivery> out;
    for (const auto& r : db_.query("SELECT id, job_id, url, body, signature, attempts FROM webhook_outbox"
                                   " WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= ?"
                                   " ORDER BY next_at, id LIMIT ?",
                                   {now, int64_t(limit)})) {
        WebhookDelivery d;
        d.id = r.i("id");
        d.job_id = r.s("job_id");
        d.url = r.s("url");
        d.body = r.s("body");
        d.signature = r.s("signature");
        d.attempts = static_cast<int>(r.i("attempts"));
        out.push_back(std::move(d));
    }
    return out;
}

void WebhookOutbox::delivered(int64_t id) {
    db_.run("UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?", {now_seconds(), id});
}

bool WebhookOutbox::failed(int64_t id, const std::string& error, double now) {
    const auto r = db_.query_one("SELECT attempts FROM webhook_outbox WHERE id = ?", {id});
    const int attempts = r ? static_cast<int>(r->i("attempts")) + 1 : kMaxAttempts;
    if (attempts >= kMaxAttempts) {
        db_.run("UPDATE webhook_outbox SET attempts = ?, last_error = ?, gave_up_at = ? WHERE id = ?",
                {int64_t(attempts), error, now, id});
        return false;
    }
    const double backoff = std::min(300.0, 5.0 * std::pow(2.0, attempts - 1));  // 5, 10, 20, 40, 80 s
    db_.run("UPDATE webhook_outbox SET attempts = ?, last_error = ?, next_at = ? WHERE id = ?",
            {int64_t(attempts), error, now + backoff, id});
    return true;
}

int64_t WebhookOutbox::pending() {
    const auto r = db_.query_one("SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL");
    return r ? r->i("n") : 0;
}

}  // namespace canter::server
