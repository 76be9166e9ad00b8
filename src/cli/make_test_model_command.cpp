#include "cli/make_test_model_command.h"

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "canter/error.h"
#include "canter/test_model.h"
#include "cli/args.h"

namespace canter::cli {

const char* kMakeTestModelUsage =
    "  make-test-model --out DIR [--preset magihuman-distill|tiny] [--format bf16|int8|fp8]\n"
    "             [--with-sr 540p,1080p] [--seed N] [--shard-bytes N] [--dry-run]\n"
    "             write an untrained model with the released checkpoints' keys, shapes and\n"
    "             dtypes and deterministic random weights (full size: ~51 GB bf16); --dry-run\n"
    "             prints each part's size and writes nothing (docs/models.md)\n";

namespace {

uint64_t parse_u64(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0)
        throw Error(ErrorCode::kInvalidArgument, "--" + flag + " must be a non-negative integer, got '" + v + "'");
    return n;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(item);
    return out;
}

}  // namespace

int cmd_make_test_model(const std::vector<std::string>& argv) {
    Args args(argv, {"out", "preset", "format", "with-sr", "seed", "shard-bytes"}, {"dry-run"});
    if (!args.positional().empty())
        throw Error(ErrorCode::kInvalidArgument, "make-test-model takes no positional argument, got '" +
                                                     args.positional()[0] + "' (use --out DIR)");
    TestModelOptions options;
    options.preset = args.get("preset", options.preset);
    options.format = args.get("format", options.format);
    if (args.has("with-sr")) options.sr = split_list(args.get("with-sr"));
    if (args.has("seed")) options.seed = parse_u64("seed", args.get("seed"));
    if (args.has("shard-bytes")) options.max_shard_bytes = parse_u64("shard-bytes", args.get("shard-bytes"));
    if (args.has("dry-run")) {
        std::cout << plan_test_model(options).table();
        return 0;
    }
    const std::string out = args.require("out");
    const auto summary = make_test_model(options, out, std::cerr);
    std::cout << summary.table();
    return 0;
}

}  // namespace canter::cli
