#include "pipeline/random_model.h"

#include "pipeline/memory_plan.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "pipeline/test_model_plan.h"
#include "pipeline/test_model_presets.h"
#include "pipeline/test_model_writer.h"
#include "util/check.h"

namespace canter::pipeline {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, sep)) out.push_back(part);
    if (!s.empty() && s.back() == sep) out.push_back("");
    return out;
}

// The materialized models of this process: folders to remove and memory files to close at exit.
struct Registry {
    std::mutex mutex;  // guards everything below
    std::map<std::string, std::string> dirs;  // canonical spec -> folder
    std::vector<int> fds;
    ~Registry() {
        std::error_code ec;
        for (const auto& [spec, dir] : dirs) fs::remove_all(dir, ec);
        for (int fd : fds) ::close(fd);
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

std::string canonical(const TestModelOptions& o) {
    std::ostringstream os;
    os << o.preset << ":" << o.format << ":seed=" << o.seed << ":sr=";
    for (size_t i = 0; i < o.sr.size(); ++i) os << (i ? "," : "") << o.sr[i];
    return os.str();
}

}  // namespace

bool is_random_model_spec(const std::string& model) { return model.rfind(kRandomModelPrefix, 0) == 0; }

TestModelOptions parse_random_model_spec(const std::string& spec) {
    CANTER_CHECK(is_random_model_spec(spec), InvalidArgument, "'" << spec << "' is not a random: model name");
    const auto parts = split(spec.substr(std::strlen(kRandomModelPrefix)), ':');
    const std::string usage = " (expected random:PRESET[:bf16|int8|fp8][:seed=N][:sr=540p,1080p])";
    CANTER_CHECK(!parts.empty() && !parts[0].empty(), InvalidArgument, "'" << spec << "': no preset named" << usage);
    TestModelOptions o;
    try {
        find_test_model_preset(parts[0]);
    } catch (const Error& e) {
        CANTER_THROW(InvalidArgument, "'" << spec << "': " << e.what());
    }
    o.preset = parts[0];
    bool have_format = false, have_seed = false, have_sr = false;
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        if (p == "bf16" || p == "int8" || p == "fp8") {
            CANTER_CHECK(!have_format, InvalidArgument, "'" << spec << "': format given twice");
            o.format = p;
            have_format = true;
        } else if (p.rfind("seed=", 0) == 0) {
            const std::string v = p.substr(5);
            char* end = nullptr;
            errno = 0;
            const unsigned long long seed = v.empty() || v[0] == '-' ? 0 : std::strtoull(v.c_str(), &end, 10);
            CANTER_CHECK(!v.empty() && v[0] != '-' && end && *end == '\0' && errno == 0, InvalidArgument,
                         "'" << spec << "': seed must be a non-negative integer, got '" << v << "'");
            CANTER_CHECK(!have_seed, InvalidArgument, "'" << spec << "': seed given twice");
            o.seed = seed;
            have_seed = true;
        } else if (p.rfind("sr=", 0) == 0) {
            CANTER_CHECK(!have_sr, InvalidArgument, "'" << spec << "': sr given twice");
            for (const auto& r : split(p.substr(3), ',')) {
                CANTER_CHECK(r == "540p" || r == "1080p", InvalidArgument,
                             "'" << spec << "': SR resolution must be 540p or 1080p, got '" << r << "'");
                o.sr.push_back(r);
            }
            have_sr = true;
        } else {
            CANTER_THROW(InvalidArgument, "'" << spec << "': unknown part '" << p << "'" << usage);
        }
    }
    return o;
}

std::string materialize_random_model(const std::string& spec) {
    const TestModelOptions options = parse_random_model_spec(spec);
    Registry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    const std::string key = canonical(options);
    if (auto it = reg.dirs.find(key); it != reg.dirs.end()) return it->second;

    const ModelPlan plan = plan_model(options);
    const TestModelSummary summary = plan.summary();
    const uint64_t available = host_memory_available();
    CANTER_CHECK(available == 0 || summary.bytes < available, OutOfMemory,
                 "'" << spec << "': the weights need " << summary.bytes << " bytes (" << format_bytes(summary.bytes)
                     << ") of memory, " << available << " bytes (" << format_bytes(available)
                     << ") are available");

    std::string tmpl = (fs::temp_directory_path() / "canter-random-XXXXXX").string();
    CANTER_CHECK(::mkdtemp(tmpl.data()) != nullptr, IO,
                 tmpl << ": cannot create a temporary folder (" << std::strerror(errno) << ")");
    const fs::path dir = tmpl;
    reg.dirs[key] = dir.string();  // removed at exit even if building fails half-way
    std::vector<int> fds;
    try {
        std::cerr << "canter: building " << spec << " in memory (" << format_bytes(summary.bytes) << ")\n";
        write_model_plan(
            plan, dir.string(),
            [&](const SafetensorsPlan& f, std::vector<io::SafetensorsWriter::Entry> entries) {
                const std::string name = fs::path(f.path).filename().string();
                const int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
                CANTER_CHECK(fd >= 0, IO, spec << ": memfd_create for " << f.path << " failed (" << std::strerror(errno) << ")");
                fds.push_back(fd);
                const fs::path link = dir / f.path;
                CANTER_CHECK(::symlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link.c_str()) == 0, IO,
                             link.string() << ": cannot create symlink (" << std::strerror(errno) << ")");
                return std::make_unique<io::SafetensorsWriter>(fd, spec + ": " + f.path, std::move(entries),
                                                               test_model_metadata());
            },
            &std::cerr);
    } catch (...) {
        for (int fd : fds) ::close(fd);
        std::error_code ec;
        fs::remove_all(dir, ec);
        reg.dirs.erase(key);
        throw;
    }
    reg.fds.insert(reg.fds.end(), fds.begin(), fds.end());
    return dir.string();
}

}  // namespace canter::pipeline
