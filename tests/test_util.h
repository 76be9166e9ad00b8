// Shared test helpers: where the golden data lives, tensor comparison with a report.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "canter/error.h"

namespace canter::testing {

// ../shared/golden next to the checkout (override: CANTER_GOLDEN_DIR).
std::string golden_dir();
std::string golden(const std::string& relative);
// The built `canter` binary (override: CANTER_BINARY).
std::string canter_binary();

// A fresh empty folder under the system temp dir, removed at process exit.
std::string temp_dir(const std::string& tag);

// The devices every golden suite runs on: "cpu" and "cuda". On a machine without a usable CUDA
// device the "cuda" cases are skipped with the reason printed (the only skips allowed in CI).
const std::vector<std::string>& golden_devices();
// "" when `device` can run tests here; else why not. For "cuda" it also turns TF32 off, so fp32
// cases compare plain fp32.
std::string device_unavailable_reason(const std::string& device);
// GTEST_SKIP()s the current test, with the reason, when `device` cannot run here.
#define CANTER_SKIP_UNLESS_DEVICE(device)                                                  \
    do {                                                                                   \
        const std::string canter_why_ = ::canter::testing::device_unavailable_reason(device); \
        if (!canter_why_.empty()) GTEST_SKIP() << canter_why_;                             \
    } while (0)

// Skips the current test because an optional component is missing; with CI=true it fails
// instead (in CI nothing skips silently: only the device cases above may skip).
bool in_ci();
#define CANTER_SKIP_OPTIONAL(reason)                                                  \
    do {                                                                              \
        if (::canter::testing::in_ci()) FAIL() << "CI=true, and " << reason;          \
        GTEST_SKIP() << reason;                                                       \
    } while (0)

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
