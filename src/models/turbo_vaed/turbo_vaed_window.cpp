#include "models/turbo_vaed/turbo_vaed_window.h"

#include "models/turbo_vaed/turbo_vaed_config.h"
#include "util/check.h"

namespace canter::turbo_vaed {

int64_t decoder_output_frames(int64_t latent_frames, bool is_first_chunk, int temporal_upsamples) {
    int64_t t = latent_frames;
    // Each upsample3d doubles time; on the first chunk it drops its (duplicated) frame 0.
    for (int i = 0; i < temporal_upsamples; ++i) t = is_first_chunk ? 2 * t - 1 : 2 * t;
    return t;
}

WindowPlan plan_windows(int64_t n, const TurboVaedConfig& config) {
    CANTER_CHECK(n >= 1, InvalidArgument,
                 "TurboVAED decode: the latent needs at least one frame, got " << n);
    const int64_t first = config.first_chunk_size;
    const int64_t step = config.step_size;
    const int64_t overlap = config.temporal_compression_ratio;  // one latent frame of context
    const int ups = config.temporal_upsamples();

    WindowPlan plan;
    plan.num_latent_frames = n;
    if (n < first)
        plan.num_padding_frames = first - n;
    else if ((n - first) % step != 0)
        plan.num_padding_frames = step - (n - first) % step;
    const int64_t padded = n + plan.num_padding_frames;

    auto add = [&](int64_t l, int64_t r, bool first_chunk, int64_t drop_front, int64_t drop_back) {
        WindowCall c;
        c.latent_begin = l;
        c.latent_end = r;
        c.is_first_chunk = first_chunk;
        c.decoder_output_frames = decoder_output_frames(r - l, first_chunk, ups);
        c.keep_begin = drop_front;
        c.keep_end = c.decoder_output_frames - drop_back;
        c.output_begin = plan.concat_frames;
        c.output_end = c.output_begin + (c.keep_end - c.keep_begin);
        plan.concat_frames = c.output_end;
        plan.calls.push_back(c);
    };

    if (padded == first) {
        add(0, padded, true, 0, 0);
    } else {
        add(0, first + 1, true, 0, overlap);
        for (int64_t i = first; i < padded; i += step) {
            const bool last = i + step == padded;
            add(i - 1, last ? i + step : i + step + 1, false, overlap, last ? 0 : overlap);
        }
    }
    plan.output_frames = plan.concat_frames - plan.num_padding_frames * overlap;
    return plan;
}

}  // namespace canter::turbo_vaed
