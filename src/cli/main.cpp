// canter command-line entry point. Frontends only include the public API (include/canter).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "canter/conform.h"
#include "canter/demo.h"
#include "canter/error.h"
#include "canter/inspect.h"
#include "canter/version.h"
#include "cli/args.h"
#include "cli/generate_command.h"
#include "cli/make_test_model_command.h"
#include "cli/quantize_command.h"
#ifdef CANTER_HAVE_SERVER
#include "cli/serve_commands.h"
#endif

namespace {

const char* kUsage =
    "usage: canter <command> [options]\n"
    "\n"
    "commands:\n"
    "%GENERATE%"
    "%MAKE_TEST_MODEL%"
    "  demo       run one DiT forward of a small built-in model and report it\n"
    "             [--seconds N] [--seed N]\n"
    "  conform    KIND --model DIR --case FILE --out FILE [--precision fp32|bf16] [--device cpu|cuda[:N]]\n"
    "             run a reference case and write results under the reference names\n"
    "  inspect    PATH   list tensors of a .safetensors / index / model folder, summarise a\n"
    "             DiT config (parameter count) or a canter model folder's manifest\n"
    "  quantize   --model IN_DIR --out OUT_DIR --format int8|fp8\n"
    "             copy a model folder with the DiT and text-encoder block matrices stored as int8 or\n"
    "             fp8 + per-channel scales (docs/models.md)\n"
    "  serve      --data DIR [--host H] [--port P] [--model DIR] [--devices cpu,cuda:0]\n"
    "             [--rate-limit N/min] [--max-active N] [--daily-jobs N] [--retention-hours H]\n"
    "             [--refine-url URL --refine-model M] [--tls-cert PEM --tls-key PEM (HTTPS)]\n"
    "             [--allow-private-webhooks (loopback/LAN webhook targets)]\n"
    "             [--max-memory SIZE] [--max-vram SIZE] [--stream-layers auto|always]\n"
    "             HTTP API + web page (docs/server.md)\n"
    "  keys       create --name N [--credits C] [--role user|admin] | list | revoke ID  --data DIR\n"
    "             API keys (admin keys may set a job priority)\n"
    "  version    print version and tensor backend\n"
    "\n"
    "environment: CANTER_THREADS=N (CPU threads; default all), CANTER_CPU_BF16_MATMUL=1 (keep bf16\n"
    "weights and use the CPU's bf16 GEMM; default only where AVX512-BF16 exists)\n";

std::string usage() {
    std::string u = kUsage;
    const std::string marker = "%GENERATE%";
    u.replace(u.find(marker), marker.size(), canter::cli::kGenerateUsage);
    const std::string test_model = "%MAKE_TEST_MODEL%";
    u.replace(u.find(test_model), test_model.size(), canter::cli::kMakeTestModelUsage);
    return u;
}

int cmd_conform(const std::vector<std::string>& argv) {
    canter::cli::Args args(argv, {"model", "case", "out", "precision", "device"}, {});
    const auto& pos = args.positional();
    if (pos.size() != 1) {
        std::cerr << "canter conform: expected exactly one KIND (" ;
        const auto kinds = canter::conformance_kinds();
        for (size_t i = 0; i < kinds.size(); ++i) std::cerr << (i ? ", " : "") << kinds[i];
        std::cerr << ")\n";
        return 2;
    }
    canter::ConformRequest req;
    req.kind = pos[0];
    req.model = args.require("model");
    req.case_path = args.require("case");
    req.out_path = args.require("out");
    req.precision = args.get("precision", "fp32");
    req.device = args.get("device", "cpu");
    const auto report = canter::run_conformance(req);
    std::cout << "conform " << req.kind << " (" << req.precision << "): wrote " << report.written.size()
              << " tensors to " << req.out_path << " in " << report.seconds << " s\n";
    return 0;
}

int cmd_inspect(const std::vector<std::string>& argv) {
    canter::cli::Args args(argv, {}, {});
    if (args.positional().size() != 1) {
        std::cerr << "canter inspect: expected exactly one PATH\n";
        return 2;
    }
    std::cout << canter::inspect_path(args.positional()[0]);
    return 0;
}

int cmd_demo(const std::vector<std::string>& argv) {
    canter::cli::Args args(argv, {"seconds", "seed"}, {});
    canter::DemoOptions options;
    options.seconds = args.get_int("seconds", options.seconds);
    options.seed = static_cast<unsigned>(args.get_int("seed", static_cast<int>(options.seed)));
    canter::run_demo_forward(options, std::cout);
    return 0;
}

// The usage block of one command: its line in the usage text and the indented lines after it.
std::string command_help(const std::string& cmd) {
    const std::string u = usage(), head = "  " + cmd + " ";
    size_t at = u.find("\n" + head);
    if (at == std::string::npos) return "";
    std::string block;
    for (size_t line = at + 1; line < u.size();) {
        const size_t end = u.find('\n', line);
        const std::string text = u.substr(line, end - line);
        if (!block.empty() && text.compare(0, head.size(), head) != 0 && text.compare(0, 13, std::string(13, ' ')) != 0)
            break;
        block += text + "\n";
        if (end == std::string::npos) break;
        line = end + 1;
    }
    return "usage: canter " + cmd + " [options]\n" + block;
}

bool asks_for_help(const std::vector<std::string>& argv) {
    for (const auto& a : argv)
        if (a == "--help" || a == "-h") return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << usage();
        return 2;
    }
    const std::string cmd = argv[1];
    int threads = 0;
    if (const char* env = std::getenv("CANTER_THREADS")) threads = std::atoi(env);
    canter::set_cpu_threads(threads);
    const std::vector<std::string> rest(argv + 2, argv + argc);
    // `canter CMD --help` works for every command, before any of its own parsing.
    if (asks_for_help(rest)) {
        const std::string help = command_help(cmd);
        if (!help.empty()) {
            std::cout << help;
            return 0;
        }
    }
    try {
        if (cmd == "generate") return canter::cli::cmd_generate(rest);
        if (cmd == "make-demo-model") return canter::cli::cmd_make_demo_model(rest);
        if (cmd == "make-test-model") return canter::cli::cmd_make_test_model(rest);
        if (cmd == "conform") return cmd_conform(rest);
        if (cmd == "inspect") return cmd_inspect(rest);
        if (cmd == "quantize") return canter::cli::cmd_quantize(rest);
        if (cmd == "demo") return cmd_demo(rest);
        if (cmd == "serve" || cmd == "keys") {
#ifdef CANTER_HAVE_SERVER
            return cmd == "serve" ? canter::cli::cmd_serve(rest) : canter::cli::cmd_keys(rest);
#else
            std::cerr << "canter " << cmd << ": this build has no HTTP server (configure with SQLite and "
                         "cpp-httplib: Debian libsqlite3-dev libcpp-httplib-dev)\n";
            return canter::exit_status_for(canter::ErrorCode::kUnsupported);
#endif
        }
        if (cmd == "version" || cmd == "--version") {
            std::cout << "canter " << canter::kVersion << " (" << canter::backend_description() << ")\n";
            return 0;
        }
        if (cmd == "help" || cmd == "--help" || cmd == "-h") {
            std::cout << usage();
            return 0;
        }
        std::cerr << "canter: unknown command '" << cmd << "'\n" << usage();
        return 2;
    } catch (const canter::Error& e) {
        std::cerr << "canter " << cmd << ": error (" << canter::error_code_name(e.code()) << "): " << e.what() << "\n";
        return canter::exit_status_for(e.code());
    } catch (const std::exception& e) {
        std::cerr << "canter " << cmd << ": error: " << e.what() << "\n";
        return 1;
    }
}
