// `canter make-test-model`: a full-size (or tiny) random-weight model folder, see
// include/canter/test_model.h.
#pragma once

#include <string>
#include <vector>

namespace canter::cli {

extern const char* kMakeTestModelUsage;
int cmd_make_test_model(const std::vector<std::string>& argv);

}  // namespace canter::cli
