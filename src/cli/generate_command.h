// `canter generate` and `canter make-demo-model`.
#pragma once

#include <string>
#include <vector>

namespace canter::cli {

int cmd_generate(const std::vector<std::string>& argv);
int cmd_make_demo_model(const std::vector<std::string>& argv);

extern const char* kGenerateUsage;

}  // namespace canter::cli
