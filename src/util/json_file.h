// Reading a JSON file with errors that name it: one helper for every config, manifest and
// tokenizer file canter reads.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace canter {

// Missing file -> kNotFound, unreadable -> kIO, malformed -> kCorruption; every message starts
// with the path.
nlohmann::json read_json_file(const std::string& path);

}  // namespace canter
