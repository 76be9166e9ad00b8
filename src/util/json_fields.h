// Typed reads of JSON config values with errors that say which config and key is wrong:
// "<what> '<key>' must be an integer, got \"7\"". Shared by the model config readers.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "util/check.h"

namespace canter::json_fields {

template <typename Int = int>
Int get_int(const nlohmann::json& v, const std::string& what, const std::string& key) {
    CANTER_CHECK(v.is_number_integer(), InvalidArgument,
                 what << " '" << key << "' must be an integer, got " << v.dump());
    return v.get<Int>();
}

inline double get_number(const nlohmann::json& v, const std::string& what, const std::string& key) {
    CANTER_CHECK(v.is_number(), InvalidArgument, what << " '" << key << "' must be a number, got " << v.dump());
    return v.get<double>();
}

inline bool get_bool(const nlohmann::json& v, const std::string& what, const std::string& key) {
    CANTER_CHECK(v.is_boolean(), InvalidArgument,
                 what << " '" << key << "' must be true or false, got " << v.dump());
    return v.get<bool>();
}

template <typename Int = int>
std::vector<Int> get_int_list(const nlohmann::json& v, const std::string& what, const std::string& key) {
    CANTER_CHECK(v.is_array(), InvalidArgument,
                 what << " '" << key << "' must be a list of integers, got " << v.dump());
    std::vector<Int> out;
    for (const auto& e : v) out.push_back(get_int<Int>(e, what, key + "[]"));
    return out;
}

inline std::vector<bool> get_bool_list(const nlohmann::json& v, const std::string& what, const std::string& key) {
    CANTER_CHECK(v.is_array(), InvalidArgument,
                 what << " '" << key << "' must be a list of booleans, got " << v.dump());
    std::vector<bool> out;
    for (const auto& e : v) out.push_back(get_bool(e, what, key + "[]"));
    return out;
}

}  // namespace canter::json_fields
