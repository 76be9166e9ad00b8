#include "util/json_file.h"

#include <filesystem>
#include <fstream>

#include "util/check.h"

namespace canter {

nlohmann::json read_json_file(const std::string& path) {
    CANTER_CHECK(std::filesystem::exists(path), NotFound, path << ": not found");
    std::ifstream in(path);
    CANTER_CHECK(in.good(), IO, path << ": cannot read");
    try {
        nlohmann::json j;
        in >> j;
        return j;
    } catch (const nlohmann::json::exception& e) {
        CANTER_THROW(Corruption, path << ": malformed JSON: " << e.what());
    }
}

}  // namespace canter
