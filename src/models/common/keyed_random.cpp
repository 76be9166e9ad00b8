#include "models/common/keyed_random.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>

#include "util/check.h"

namespace canter::models {

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

}  // namespace

uint64_t keyed_stream(uint64_t seed, const std::string& key) {
    uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
    for (unsigned char c : key) h = (h ^ c) * 0x100000001B3ull;
    return splitmix64(splitmix64(seed) ^ h);
}

void fill_keyed_normal(at::Tensor& out, uint64_t stream, int64_t first, double stddev) {
    CANTER_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.device().is_cpu(), Internal,
                 "fill_keyed_normal needs a contiguous CPU fp32 tensor");
    float* data = out.data_ptr<float>();
    // Sum of four U{0..65535}: mean 2*65535, variance 4*(65536^2-1)/12 ~ 65536^2/3.
    constexpr int64_t kCentre = 2 * 65535;
    const double scale = stddev * std::sqrt(3.0) / 65536.0;
    at::parallel_for(0, out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const uint64_t r = splitmix64(stream + static_cast<uint64_t>(first + i) * 0xD1B54A32D192ED03ull);
            const int64_t s = static_cast<int64_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
            data[i] = static_cast<float>(static_cast<double>(s - kCentre) * scale);
        }
    });
}

}  // namespace canter::models
