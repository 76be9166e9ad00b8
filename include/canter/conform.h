// `canter conform`: run one reference case (../shared/golden layout) through canter and write
// the results under the reference tensor names (without the fp32./native. prefix).
#pragma once

#include <string>
#include <vector>

namespace canter {

struct ConformRequest {
    std::string kind;        // dit (more kinds arrive with their components)
    std::string model;       // model folder (config.json + weights)
    std::string case_path;   // case .safetensors with input.* tensors and __metadata__
    std::string out_path;    // output .safetensors (written atomically)
    std::string precision = "fp32";  // fp32 | bf16
    std::string device = "cpu";      // cpu | cuda | cuda:N (fp32 on CUDA runs with TF32 off)
};

struct ConformReport {
    std::vector<std::string> written;  // tensor names in the output file
    double seconds = 0;
};

// Throws canter::Error naming the file, tensor or field that is wrong.
ConformReport run_conformance(const ConformRequest& request);

// The kinds this build can run.
std::vector<std::string> conformance_kinds();

}  // namespace canter
