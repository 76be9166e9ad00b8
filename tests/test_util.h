// Shared test helpers: where the golden data lives, tensor comparison with a report.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "canter/error.h"

namespace canter::testing {

// ../shared/golden next to the checkout (override: CANTER_GOLDEN_DIR).
std::string golden_dir();
std::string golden(const std::string& relative);
// The built `canter` binary (override: CANTER_BINARY).
std::string canter_binary();

// A fresh empty folder under the system temp dir, removed at process exit.
std::string temp_dir(const std::string& tag);

struct Diff {
    double max_abs = 0;
    double max_rel = 0;
    int64_t worst_index = -1;
    std::string describe() const;
};
Diff compare(const at::Tensor& actual, const at::Tensor& expected);

// EXPECT shapes equal and max abs difference <= tol; prints the diff either way.
::testing::AssertionResult near(const at::Tensor& actual, const at::Tensor& expected, double tol,
                                const std::string& what);

// Message of the canter::Error thrown by `fn` ("" when nothing is thrown).
std::string error_of(const std::function<void()>& fn);

// Runs a shell command, returns its exit status and captures stdout+stderr.
int run_command(const std::string& cmd, std::string* output);

}  // namespace canter::testing
