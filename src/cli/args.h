// Minimal flag parser for the canter subcommands: `--name value`, `--name=value`, `--flag`.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace canter::cli {

class Args {
public:
    // `value_flags` take a value, `bool_flags` do not; anything else starting with "--"
    // is an error naming the flag.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
         const std::set<std::string>& bool_flags);

    bool has(const std::string& flag) const { return values_.count(flag) || bools_.count(flag); }
    std::string get(const std::string& flag, const std::string& fallback = "") const;
    std::string require(const std::string& flag) const;  // throws "--flag is required"
    int get_int(const std::string& flag, int fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::string> values_;
    std::set<std::string> bools_;
    std::vector<std::string> positional_;
};

}  // namespace canter::cli
