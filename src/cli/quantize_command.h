// `canter quantize`.
#pragma once

#include <string>
#include <vector>

namespace canter::cli {

int cmd_quantize(const std::vector<std::string>& argv);

}  // namespace canter::cli
