// Token bucket per API key: `per_minute` submissions, bursting up to the same number.
// Thread-safe. per_minute <= 0 disables the limit.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

namespace canter::server {

class RateLimiter {
public:
    explicit RateLimiter(double per_minute) : per_minute_(per_minute) {}
    // Takes a token; false (and the seconds until one is free in *retry_after) when empty.
    bool allow(int64_t key_id, double now, double* retry_after);

private:
    struct Bucket {
        double tokens = 0;
        double updated = 0;
    };
    double per_minute_;
    std::mutex mutex_;  // guards buckets_
    std::map<int64_t, Bucket> buckets_;
};

}  // namespace canter::server
