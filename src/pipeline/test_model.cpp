// make-test-model to disk: the checks (empty target, free space) before anything is written,
// and cleanup of a partial folder. The plan and the writing are test_model_plan/_writer.
#include "canter/test_model.h"

#include <sys/statvfs.h>

#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "pipeline/test_model_plan.h"
#include "pipeline/test_model_presets.h"
#include "pipeline/test_model_writer.h"
#include "util/check.h"

namespace canter {

namespace fs = std::filesystem;

namespace {

// Allowance for filesystem blocks and directory entries beyond the files' exact sizes.
constexpr uint64_t kDiskSlack = 64ull << 20;

// The nearest existing folder of `p` (the filesystem the model will land on).
fs::path existing_ancestor(fs::path p) {
    std::error_code ec;
    while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
    return p.empty() ? fs::current_path() : p;
}

void check_target(const fs::path& out, uint64_t bytes) {
    std::error_code ec;
    if (fs::exists(out, ec)) {
        CANTER_CHECK(fs::is_directory(out, ec), InvalidArgument, out.string() << ": exists and is not a folder");
        CANTER_CHECK(fs::is_empty(out, ec), InvalidArgument,
                     out.string() << ": exists and is not empty (make-test-model writes a new model folder)");
    }
    const fs::path fs_root = existing_ancestor(out);
    struct statvfs st {};
    CANTER_CHECK(::statvfs(fs_root.c_str(), &st) == 0, IO, fs_root.string() << ": cannot read the free disk space");
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    const uint64_t needed = bytes + kDiskSlack;
    CANTER_CHECK(free_bytes >= needed, IO,
                 out.string() << ": not enough free disk space: the model needs " << needed << " bytes ("
                              << format_bytes(needed) << ", 64 MiB slack included), " << free_bytes << " bytes ("
                              << format_bytes(free_bytes) << ") are free on the filesystem of " << fs_root.string()
                              << "; nothing was written");
}

}  // namespace

std::vector<std::string> test_model_presets() { return pipeline::test_model_preset_names(); }

std::string format_bytes(uint64_t bytes) {
    char buf[64];
    if (bytes < (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f KB", bytes / 1e3);
    else if (bytes < (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
    else std::snprintf(buf, sizeof buf, "%.2f GB (%.2f GiB)", bytes / 1e9, bytes / double(1ull << 30));
    return buf;
}

std::string TestModelSummary::table() const {
    std::ostringstream os;
    os << "test model '" << preset << "', " << format << "\n";
    os << std::left << std::setw(14) << "part" << std::setw(22) << "folder" << std::right << std::setw(16)
       << "parameters" << std::setw(18) << "bytes" << std::setw(7) << "files" << "\n";
    for (const auto& p : parts)
        os << std::left << std::setw(14) << p.role << std::setw(22) << p.folder << std::right << std::setw(16)
           << p.parameters << std::setw(18) << p.bytes << std::setw(7) << p.files << "\n";
    os << std::left << std::setw(36) << "total" << std::right << std::setw(16) << parameters << std::setw(18) << bytes
       << "  " << format_bytes(bytes) << "\n";
    return os.str();
}

TestModelSummary plan_test_model(const TestModelOptions& options) { return pipeline::plan_model(options).summary(); }

TestModelSummary make_test_model(const TestModelOptions& options, const std::string& out_dir, std::ostream& log) {
    CANTER_CHECK(!out_dir.empty(), InvalidArgument, "make-test-model: no output folder given");
    const pipeline::ModelPlan plan = pipeline::plan_model(options);
    const TestModelSummary summary = plan.summary();
    const fs::path out = fs::absolute(out_dir);
    check_target(out, summary.bytes);
    std::error_code ec;
    const bool created = !fs::exists(out, ec);
    fs::create_directories(out);
    try {
        pipeline::write_model_plan(
            plan, out.string(),
            [&](const pipeline::SafetensorsPlan& f, std::vector<io::SafetensorsWriter::Entry> entries) {
                return std::make_unique<io::SafetensorsWriter>((out / f.path).string(), std::move(entries),
                                                               pipeline::test_model_metadata());
            },
            &log);
    } catch (...) {
        // Leave no partial model behind (the folder was absent or empty before).
        if (created) fs::remove_all(out, ec);
        else
            for (const auto& e : fs::directory_iterator(out, ec)) fs::remove_all(e.path(), ec);
        throw;
    }
    log << "canter: wrote " << out.string() << ": " << summary.parameters << " parameters, " << format_bytes(summary.bytes)
        << "\n";
    return summary;
}

}  // namespace canter
