// `canter inspect`: what is in a weights file, a sharded checkpoint or a model folder.
#pragma once

#include <cstdint>
#include <string>

namespace canter {

// Human-readable report: tensors (name, dtype, shape), metadata, and for a DiT config
// (a model folder's config.json or a .json path) the architecture and parameter count.
std::string inspect_path(const std::string& path);

// Parameter count implied by a DiT config (`arch_config` section or top-level fields; an
// empty object means the real 15B configuration). Counts exactly the tensors a strict load
// requires (not the recomputable rope buffer).
int64_t dit_parameter_count(const std::string& config_json);

// "15,299,419,136"
std::string with_thousands(int64_t n);

}  // namespace canter
