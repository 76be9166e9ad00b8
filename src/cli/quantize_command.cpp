// `canter quantize --model IN_DIR --out OUT_DIR --format int8|fp8`: flags -> QuantizeRequest ->
// canter::quantize_model, progress on stderr, a summary on stdout.
#include "cli/quantize_command.h"

#include <cstdio>
#include <iostream>

#include "canter/quantize.h"
#include "cli/args.h"

namespace canter::cli {

int cmd_quantize(const std::vector<std::string>& argv) {
    Args args(argv, {"model", "out", "format"}, {});
    if (!args.positional().empty()) {
        std::cerr << "canter quantize: unexpected argument '" << args.positional()[0]
                  << "' (usage: canter quantize --model IN_DIR --out OUT_DIR --format int8|fp8)\n";
        return 2;
    }
    QuantizeRequest request;
    request.model = args.require("model");
    request.out = args.require("out");
    request.format = args.require("format");
    if (request.format != "int8" && request.format != "fp8") {
        std::cerr << "canter quantize: --format must be int8 or fp8, got '" << request.format << "'\n";
        return 2;
    }
    const auto report = quantize_model(request, [](const std::string& line) { std::cerr << line << "\n"; });
    for (const auto& c : report.components) {
        std::printf("%-14s %4d block matrices %s, %4d tensors kept", c.role.c_str(), c.quantized,
                    report.format.c_str(), c.kept);
        if (c.dropped) std::printf(", %d dropped", c.dropped);
        std::printf(": %.1f MB -> %.1f MB  %s\n", c.bytes_in / 1e6, c.bytes_out / 1e6, c.weights.c_str());
    }
    std::printf("wrote %s (%s) in %.1f s; %d files carried over (%d hard-linked, %d copied)\n",
                report.out_dir.c_str(), report.format.c_str(), report.seconds,
                report.files_linked + report.files_copied, report.files_linked, report.files_copied);
    return 0;
}

}  // namespace canter::cli
