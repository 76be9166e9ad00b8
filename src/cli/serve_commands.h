// `canter serve` and `canter keys` (only in builds with the server: SQLite + cpp-httplib).
#pragma once

#include <string>
#include <vector>

namespace canter::cli {

int cmd_serve(const std::vector<std::string>& argv);
int cmd_keys(const std::vector<std::string>& argv);

}  // namespace canter::cli
