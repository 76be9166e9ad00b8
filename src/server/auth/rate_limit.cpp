#include "server/auth/rate_limit.h"

#include <algorithm>

namespace canter::server {

bool RateLimiter::allow(int64_t key_id, double now, double* retry_after) {
    if (per_minute_ <= 0) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, fresh] = buckets_.try_emplace(key_id);
    Bucket& b = it->second;
    if (fresh) b = {per_minute_, now};
    b.tokens = std::min(per_minute_, b.tokens + (now - b.updated) * per_minute_ / 60.0);
    b.updated = now;
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return true;
    }
    if (retry_after) *retry_after = (1.0 - b.tokens) * 60.0 / per_minute_;
    return false;
}

}  // namespace canter::server
