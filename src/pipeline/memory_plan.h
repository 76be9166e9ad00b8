// The engine's memory plan: from the budget (--max-memory / --max-vram, default what the
// machine has) and each component's footprint, which components stay loaded between jobs,
// which are loaded per stage and released after it, and which stream their layers.
//
//   1. Everything a request uses fits together (with the stage's working memory): all
//      resident and kept loaded (a server pays loading once).
//   2. Else stage by stage: each stage's component is loaded for that stage and released
//      after it (text encoder before the DiT, base DiT before the SR DiT, decoders after the
//      DiT); a component that does not fit even alone streams its layers, if it can.
//   3. A stage that does not fit even streamed is an error naming the smallest budget that works.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/common/footprint.h"

namespace canter::pipeline {

// "6G", "6GiB", "512M", "24GB", "1.5G", "1073741824" -> bytes (K/M/G/T are powers of 1024;
// a trailing B or iB is accepted). Throws InvalidArgument naming `flag` and the text.
uint64_t parse_byte_size(const std::string& text, const std::string& flag);
// "1.5 GiB", "640 MiB"; `round_up` for minimums (never print less than is needed).
std::string format_bytes(uint64_t bytes, bool round_up = false);
// MemAvailable from /proc/meminfo (what the machine can give without swapping), else total RAM.
uint64_t host_memory_available();

struct PlanComponent {
    std::string role;        // "text_encoder", "dit.distill", "turbo_vaed", ...
    std::string label;       // for the log: "text encoder (T5Gemma)"
    models::Footprint footprint;
    bool streamable = false;  // has blocks a BlockStore can stream
};

struct PlanStage {
    std::string name;          // "text", "base", "sr", "decode", ...
    std::string role;          // the component it runs
    uint64_t working_bytes = 0;  // activations and temporaries of the stage (estimate)
};

struct MemoryPlan {
    uint64_t budget = 0;
    bool keep_loaded = false;               // case 1: everything stays loaded between jobs
    std::map<std::string, bool> streamed;   // role -> stream its layers
    uint64_t peak_estimate = 0;             // the largest stage (or the whole set, case 1)
    std::vector<std::string> log;           // what was chosen and why, one line each
};

// `budget_source` says where the budget came from ("--max-memory", "available RAM");
// `already_used` is what the process holds before any model (libraries, CUDA context): it
// counts against an explicit budget.
// `always_stream`: stream every streamable component and load stage by stage even when all
// would fit (the smallest footprint; `--stream-layers always`).
MemoryPlan plan_memory(uint64_t budget, const std::string& budget_source, const std::vector<PlanComponent>& components,
                       const std::vector<PlanStage>& stages, bool always_stream = false, uint64_t already_used = 0);
// This process's resident set now (/proc/self/statm).
uint64_t process_resident_bytes();

}  // namespace canter::pipeline
