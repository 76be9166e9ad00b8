#include "models/common/footprint.h"

#include <algorithm>
#include <map>

#include "io/checkpoint.h"
#include "models/common/quantize.h"

namespace canter::models {

Footprint footprint(const io::Checkpoint& checkpoint, const std::vector<WeightSpec>& specs,
                    at::ScalarType compute_dtype) {
    Footprint f;
    const uint64_t compute_size = c10::elementSize(compute_dtype);
    std::map<int, uint64_t> raw, scratch;  // per block
    for (const auto& s : specs) {
        const uint64_t n = static_cast<uint64_t>(s.numel());
        uint64_t stored_size = c10::elementSize(s.dtype);
        bool quantized = false;
        if (checkpoint.contains(s.key)) {
            const auto& info = checkpoint.info(s.key);
            stored_size = io::dtype_size(info.dtype);
            quantized = is_quantized_dtype(io::aten_dtype(info.dtype)) && checkpoint.contains(scale_key(s.key));
        }
        if (!s.is_block_matrix()) {
            f.other_bytes += n * (quantized ? c10::elementSize(s.dtype) : std::max<uint64_t>(stored_size, c10::elementSize(s.dtype)));
            continue;
        }
        const uint64_t scale_bytes = quantized ? static_cast<uint64_t>(s.shape[0]) * 4 : 0;
        const bool widened = quantized || stored_size < compute_size;
        const uint64_t kept = widened ? n * stored_size : n * compute_size;  // narrowed at load otherwise
        f.block_bytes += kept;
        raw[s.block] += n * stored_size;
        if (widened) scratch[s.block] += n * compute_size;
        f.other_bytes += scale_bytes;  // scales stay resident even when the blocks stream
    }
    f.blocks = static_cast<int>(raw.size());
    for (const auto& [b, bytes] : raw) f.largest_block = std::max(f.largest_block, bytes);
    for (const auto& [b, bytes] : scratch) f.scratch_bytes = std::max(f.scratch_bytes, bytes);
    return f;
}

uint64_t fp32_bytes(const std::string& path, const std::string& prefix) {
    const io::Checkpoint ckpt = io::Checkpoint::open(path);
    uint64_t n = 0;
    for (const auto& name : ckpt.names())
        if (name.compare(0, prefix.size(), prefix) == 0) n += static_cast<uint64_t>(ckpt.info(name).numel()) * 4;
    return n;
}

}  // namespace canter::models
