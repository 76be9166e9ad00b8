// `canter quantize`: a copy of a model folder whose big block matrices (the DiTs' and the
// text encoder's per-layer 2-D weights, ~97 % of the bytes) are stored as int8 or fp8 e4m3
// with one fp32 scale per output channel; everything else is carried over unchanged.
// docs/models.md ("Quantized weights") describes the output layout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace canter {

struct QuantizeRequest {
    std::string model;   // IN_DIR: a canter model folder (canter.json) or one DiT folder
    std::string out;     // OUT_DIR: must not exist or be an empty folder; never inside IN_DIR
    std::string format;  // "int8" (symmetric, per output channel) | "fp8" (e4m3, per channel)
};

struct QuantizedComponent {
    std::string role;      // "dit.distill", "text_encoder", ... ("dit" for a DiT folder)
    std::string weights;   // the file written, relative to OUT_DIR
    int quantized = 0;     // block matrices stored quantized (each with a `_scale`)
    int kept = 0;          // tensors copied byte for byte
    int dropped = 0;       // tensors left out (the T5Gemma decoder half, never read by canter)
    uint64_t bytes_in = 0;   // tensor bytes read from the input
    uint64_t bytes_out = 0;  // size of the written file
};

struct QuantizeReport {
    std::string out_dir;  // absolute
    std::string format;
    std::vector<QuantizedComponent> components;
    int files_linked = 0;  // carried-over files hard-linked (same filesystem)
    int files_copied = 0;  // carried-over files copied
    double seconds = 0;
};

// Writes the quantized model into `request.out` (built in a sibling temporary folder and
// renamed into place, so an interrupted run leaves no half-written OUT_DIR). Reads the input
// tensor by tensor from the memory map: peak memory is about one matrix, not the model.
// Checks everything before writing anything (input is a model and not already quantized,
// OUT_DIR absent or empty, enough free disk space). `progress` receives one line per step.
// Throws canter::Error naming the folder, file, tensor or field that is wrong.
QuantizeReport quantize_model(const QuantizeRequest& request,
                              const std::function<void(const std::string&)>& progress = nullptr);

}  // namespace canter
