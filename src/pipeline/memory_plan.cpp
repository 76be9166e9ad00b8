#include "pipeline/memory_plan.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "util/check.h"

namespace canter::pipeline {

uint64_t parse_byte_size(const std::string& text, const std::string& flag) {
    auto bad = [&]() -> uint64_t {
        CANTER_THROW(InvalidArgument, flag << " expects a size such as 6G, 512M or 24GiB, got '" << text << "'");
    };
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        return bad();
    }
    std::string unit = text.substr(used);
    for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();  // GB, GiB -> G, Gi
    if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
    double scale = 1;
    if (unit == "K") scale = 1024.0;
    else if (unit == "M") scale = 1024.0 * 1024;
    else if (unit == "G") scale = 1024.0 * 1024 * 1024;
    else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty() && unit != "B") return bad();
    if (!(value > 0) || !std::isfinite(value)) return bad();
    return static_cast<uint64_t>(value * scale);
}

std::string format_bytes(uint64_t bytes, bool round_up) {
    char buf[32];
    const double b = static_cast<double>(bytes);
    auto r = [&](double v, double step) { return round_up ? std::ceil(v / step - 1e-9) * step : v; };
    if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", r(b / (1024.0 * 1024 * 1024), 0.1));
    else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.0f MiB", r(b / (1024.0 * 1024), 1));
    else std::snprintf(buf, sizeof buf, "%.0f KiB", r(b / 1024.0, 1));
    return buf;
}

uint64_t host_memory_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib * 1024;
    return static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t process_resident_bytes() {
    std::ifstream in("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

MemoryPlan plan_memory(uint64_t budget, const std::string& budget_source, const std::vector<PlanComponent>& components,
                       const std::vector<PlanStage>& stages, bool always_stream, uint64_t already_used) {
    auto find = [&](const std::string& role) -> const PlanComponent& {
        for (const auto& c : components)
            if (c.role == role) return c;
        CANTER_THROW(Internal, "memory plan: no component '" << role << "'");
    };
    MemoryPlan plan;
    plan.budget = budget;
    std::ostringstream head;
    head << "memory budget " << format_bytes(budget) << " (" << budget_source << ")";
    if (already_used > 0) head << ", " << format_bytes(already_used) << " of it held before any model (libraries)";
    plan.log.push_back(head.str());
    const uint64_t full_budget = budget;
    budget = budget > already_used ? budget - already_used : 0;

    // Case 1: every component a stage uses, resident at once, plus the largest working set.
    std::set<std::string> used;
    uint64_t together = 0, largest_work = 0;
    for (const auto& s : stages) {
        if (used.insert(s.role).second) together += find(s.role).footprint.resident();
        largest_work = std::max(largest_work, s.working_bytes);
    }
    together += largest_work;
    if (together <= budget && !always_stream) {
        plan.keep_loaded = true;
        plan.peak_estimate = together;
        for (const auto& r : used) plan.streamed[r] = false;
        plan.log.push_back("all components resident and kept loaded (" + format_bytes(together) + ")");
        return plan;
    }

    // Case 2: one stage's component at a time; stream what does not fit alone.
    plan.log.push_back(always_stream ? std::string("streaming layers as asked: loading each component for its stage")
                                     : "the components need " + format_bytes(together) +
                                           " together: loading each for its stage and releasing it after");
    uint64_t smallest_budget = 0;
    std::string tightest;
    std::vector<std::string> too_big;
    for (const auto& s : stages) {
        const PlanComponent& c = find(s.role);
        const uint64_t resident = c.footprint.resident() + s.working_bytes;
        const uint64_t streamed = c.footprint.streamed() + s.working_bytes;
        const uint64_t need = c.streamable ? std::min(resident, streamed) : resident;
        if (need > smallest_budget) {
            smallest_budget = need;
            tightest = s.name + " stage (" + c.label + (c.streamable ? ", streamed" : "") + ")";
        }
        if (plan.streamed.count(s.role)) continue;  // a second stage of the same component
        if (resident <= budget && !(always_stream && c.streamable)) {
            plan.streamed[s.role] = false;
            plan.log.push_back(c.label + ": resident for its stage (" + format_bytes(resident) + ")");
        } else if (c.streamable && streamed <= budget) {
            plan.streamed[s.role] = true;
            plan.log.push_back(c.label + ": " + format_bytes(c.footprint.resident()) +
                               (resident <= budget ? " resident; streaming its " : " does not fit; streaming its ") +
                               std::to_string(c.footprint.blocks) + " layers from the file (" +
                               format_bytes(streamed) + " with a two-layer ring)");
        } else {
            too_big.push_back(s.name);
        }
        plan.peak_estimate = std::max(plan.peak_estimate, plan.streamed[s.role] ? streamed : resident);
    }
    CANTER_CHECK(too_big.empty(), InvalidArgument,
                 budget_source << " " << format_bytes(full_budget) << " is too small for this job: the " << tightest
                               << " needs at least " << format_bytes(smallest_budget, true)
                               << (already_used ? " besides the " + format_bytes(already_used) + " the process holds" : "")
                               << "; the smallest budget that works is "
                               << format_bytes(smallest_budget + already_used, true));
    return plan;
}

}  // namespace canter::pipeline
