// The negative prompt used for classifier-free guidance when a request gives none.
#pragma once

#include <string>

namespace canter::pipeline {

// 1,719 characters (pipeline.md §4.3).
const std::string& default_negative_prompt();

}  // namespace canter::pipeline
