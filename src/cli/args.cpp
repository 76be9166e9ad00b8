#include "cli/args.h"

#include "util/check.h"

namespace canter::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
           const std::set<std::string>& bool_flags) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        const auto eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (bool_flags.count(name)) {
            CANTER_CHECK(!inline_value, InvalidArgument, "--" << name << " takes no value");
            bools_.insert(name);
        } else if (value_flags.count(name)) {
            if (!inline_value) {
                CANTER_CHECK(i + 1 < argv.size(), InvalidArgument, "--" << name << " needs a value");
                value = argv[++i];
            }
            values_[name] = value;
        } else {
            CANTER_THROW(InvalidArgument, "unknown option --" << name);
        }
    }
}

std::string Args::get(const std::string& flag, const std::string& fallback) const {
    auto it = values_.find(flag);
    return it == values_.end() ? fallback : it->second;
}

std::string Args::require(const std::string& flag) const {
    auto it = values_.find(flag);
    CANTER_CHECK(it != values_.end() && !it->second.empty(), InvalidArgument, "--" << flag << " is required");
    return it->second;
}

int Args::get_int(const std::string& flag, int fallback) const {
    auto it = values_.find(flag);
    if (it == values_.end()) return fallback;
    try {
        size_t used = 0;
        int v = std::stoi(it->second, &used);
        if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    CANTER_THROW(InvalidArgument, "--" << flag << " must be an integer, got '" << it->second << "'");
}

}  // namespace canter::cli
