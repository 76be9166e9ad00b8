#include "test_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "tensor/compat.h"
#include "tensor/device_info.h"

namespace canter::testing {

namespace fs = std::filesystem;

std::string golden_dir() {
    if (const char* env = std::getenv("CANTER_GOLDEN_DIR")) return env;
    return CANTER_GOLDEN_DIR;
}

std::string canter_binary() {
    if (const char* env = std::getenv("CANTER_BINARY")) return env;
    return CANTER_BINARY;
}

std::string golden(const std::string& relative) { return golden_dir() + "/" + relative; }

std::string temp_dir(const std::string& tag) {
    static const fs::path root = [] {
        fs::path p = fs::temp_directory_path() / ("canter-test-" + std::to_string(::getpid()));
        fs::create_directories(p);
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(fs::temp_directory_path() / ("canter-test-" + std::to_string(::getpid())), ec);
        });
        return p;
    }();
    static int counter = 0;
    fs::path p = root / (tag + "-" + std::to_string(counter++));
    fs::create_directories(p);
    return p.string();
}

std::string Diff::describe() const {
    std::ostringstream os;
    os << "max_abs=" << max_abs << " max_rel=" << max_rel << " worst_index=" << worst_index;
    return os.str();
}

const std::vector<std::string>& golden_devices() {
    static const std::vector<std::string> kDevices = {"cpu", "cuda"};
    return kDevices;
}

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci && std::string(ci) == "true";
}

std::string device_unavailable_reason(const std::string& device) {
    if (device == "cpu") return "";
    if (!tensor::cuda_usable())
        return "no usable CUDA device for the " + device + " cases: " + tensor::describe_backend(tensor::backend_info());
    tensor::disable_tf32();
    return "";
}

Diff compare(const at::Tensor& actual, const at::Tensor& expected) {
    at::Tensor a = actual.cpu().to(at::kDouble).flatten(), e = expected.cpu().to(at::kDouble).flatten();
    at::Tensor d = (a - e).abs();
    Diff out;
    if (d.numel() == 0) return out;
    out.worst_index = d.argmax().item<int64_t>();
    out.max_abs = d.max().item<double>();
    out.max_rel = (d / (e.abs() + 1e-6)).max().item<double>();
    return out;
}

::testing::AssertionResult near(const at::Tensor& actual, const at::Tensor& expected, double tol,
                                const std::string& what) {
    if (actual.sizes() != expected.sizes()) {
        return ::testing::AssertionFailure() << what << ": shape " << actual.sizes() << " vs expected "
                                             << expected.sizes();
    }
    Diff d = compare(actual, expected);
    std::cout << "  [compare] " << what << ": " << d.describe() << " (tol " << tol << ")\n";
    if (!(d.max_abs <= tol))
        return ::testing::AssertionFailure() << what << ": " << d.describe() << " exceeds tol " << tol;
    return ::testing::AssertionSuccess();
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

int run_command(const std::string& cmd, std::string* output) {
    std::string full = cmd + " 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    std::string out;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace canter::testing
