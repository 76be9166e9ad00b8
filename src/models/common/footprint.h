// How much memory a model needs, from its checkpoint's header and the model's own weight list,
// before anything is loaded: the numbers the engine's memory plan chooses residency from.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/common/weights.h"

namespace canter::io {
class Checkpoint;
}

namespace canter::models {

struct Footprint {
    uint64_t other_bytes = 0;    // everything outside the blocks, as held in memory
    uint64_t block_bytes = 0;    // every block matrix as the store keeps it (+ scales)
    uint64_t largest_block = 0;  // one block's matrices as read from the file (a ring slot)
    uint64_t scratch_bytes = 0;  // one block made compute-ready, when that needs a copy
    int blocks = 0;
    // All blocks kept in memory.
    uint64_t resident() const { return other_bytes + block_bytes + scratch_bytes; }
    // Blocks read from the file per use into a ring of two slots.
    uint64_t streamed() const { return other_bytes + 2 * largest_block + scratch_bytes; }
};

// `specs` from a SpecCollector over the model's visit(); `compute_dtype` is what the block
// matrices are handed to the GEMMs in (see CheckpointBinder for the same rules). Tensors the
// checkpoint lacks count at their spec'd size.
Footprint footprint(const io::Checkpoint& checkpoint, const std::vector<WeightSpec>& specs,
                    at::ScalarType compute_dtype);

// The tensors of a checkpoint (file or folder) whose names start with `prefix`, widened to
// fp32: the small models (VAEs), which are held in fp32.
uint64_t fp32_bytes(const std::string& path, const std::string& prefix = "");

}  // namespace canter::models
