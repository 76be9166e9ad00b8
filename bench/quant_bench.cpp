// Weight-only quantization (canter quantize): accuracy and GEMM speed on the CPU.
//
// (a) Accuracy: relative L2 error of int8 / fp8 e4m3 per-channel weights against the bf16
//     model, per layer (each layer fed the bf16 model's own input: the error one layer adds)
//     and end to end (the accumulated error at each layer output, and the heads), on the golden
//     DiT configs (golden/dit, golden/dit_long, their t2v case) and on real-width random layers
//     (DitConfig::real() with --real-layers layers, a ~530-token sequence). The quantized models
//     go through the real path: `canter quantize` into a temporary folder, then DitModel::load.
// (b) Speed at the real shapes: ATen's weight-only int8 GEMM `at::_weight_int8pack_mm`
//     (bf16 x [M, K], int8 w [N, K], bf16 scales [N]) against what canter's BlockStore does
//     per layer: dequantize into a bf16 scratch, then at::linear in bf16.
//
// Usage: canter_bench_quant [--reps N] [--real-layers N] [--skip-accuracy] [--skip-gemm]
//                           [--golden DIR] [--tmp DIR] [--max-m M]
// Defaults take ~6 min on an idle 2-core AVX512-BF16 machine.

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "canter/error.h"
#include "canter/quantize.h"
#include "canter/version.h"
#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/common/quantize.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/dit/rope.h"
#include "pipeline/packing.h"
#include "tensor/ops.h"

namespace {

using namespace canter;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
    int reps = 3;
    int real_layers = 2;
    bool accuracy = true;
    bool gemm = true;
    int64_t max_m = 4096;
    std::string golden = "../shared/golden";
    std::string tmp = (fs::temp_directory_path() / "canter-quant-bench").string();
};

double rel_l2(const at::Tensor& a, const at::Tensor& ref) {
    const at::Tensor r = ref.to(at::kDouble);
    return (a.to(at::kDouble) - r).norm().item<double>() / std::max(r.norm().item<double>(), 1e-30);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One model's per-layer (isolated) and accumulated errors against the bf16 reference.
void compare_models(const std::string& label, const std::string& ref_dir, const dit::DitConfig& config,
                    const pipeline::PackedInput& packed, const std::string& tmp) {
    dit::DitOptions options;  // bf16 numerics, as upstream
    const auto ref = dit::DitModel::load(ref_dir, config, options);
    std::map<std::string, at::Tensor> ref_taps;
    auto t0 = Clock::now();
    const auto ref_out = ref.forward(packed.seq, [&](const std::string& n, const at::Tensor& t) { ref_taps[n] = t.clone(); });
    const double ref_s = seconds_since(t0);
    const auto rope = dit::rope_table(packed.seq.coords, ref.weights().rope_bands);
    std::printf("\n#### %s: %s, %lld tokens (bf16 forward %.1f s)\n\n", label.c_str(), config.summary().c_str(),
                static_cast<long long>(packed.seq.length()), ref_s);
    std::printf("| format | layer | kind | isolated rel L2 | accumulated rel L2 |\n|---|---|---|---|---|\n");
    std::map<std::string, std::pair<double, double>> heads;
    for (const std::string format : {"int8", "fp8"}) {
        const std::string qdir = tmp + "/" + label + "-" + format;
        fs::remove_all(qdir);
        canter::quantize_model({ref_dir, qdir, format});
        const auto q = dit::DitModel::load(qdir, config, options);
        std::map<std::string, at::Tensor> taps;
        const auto out = q.forward(packed.seq, [&](const std::string& n, const at::Tensor& t) { taps[n] = t.clone(); });
        for (int i = 0; i < config.num_layers; ++i) {
            const std::string in = i == 0 ? "adapter_out" : "layer_out." + std::to_string(i - 1);
            const std::string n = "layer_out." + std::to_string(i);
            const at::Tensor iso = q.forward_layer(i, ref_taps.at(in), packed.seq, rope.sin, rope.cos);
            // The residual stream carries the layer's input: compare what the layer adds.
            const double e_iso = rel_l2(iso - ref_taps.at(in), ref_taps.at(n) - ref_taps.at(in));
            const double e_acc = rel_l2(taps.at(n), ref_taps.at(n));
            const std::string kind = std::string(config.is_mm_layer(i) ? "mm " : "") +
                                     (config.is_gelu7_layer(i) ? "gelu7" : "swiglu7");
            std::printf("| %s | %d | %s | %.4f | %.4f |\n", format.c_str(), i, kind.c_str(), e_iso, e_acc);
        }
        heads[format] = {rel_l2(out.video, ref_out.video), rel_l2(out.audio, ref_out.audio)};
        fs::remove_all(qdir);
    }
    std::printf("\nend to end (heads): ");
    for (const auto& [f, e] : heads) std::printf("%s video %.4f audio %.4f; ", f.c_str(), e.first, e.second);
    std::printf("\n");
}

void golden_accuracy(const Args& args) {
    for (const std::string set : {"dit", "dit_long"}) {
        const std::string dir = args.golden + "/" + set;
        canter::conform::CaseFile c(dir + "/case_t2v.safetensors");
        dit::DitConfig config = dit::DitConfig::from_model_dir(dir);
        config.apply(c.meta("arch_overrides", nlohmann::json::object()));
        const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"), c.input("input.txt_feat"),
                                           c.input("input.txt_feat_len").item<int64_t>(),
                                           pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config")));
        compare_models("golden-" + set, dir, config, packed, args.tmp);
    }
}

// Real-width layers with random bf16-valued weights, written as a bf16 DiT folder.
void real_accuracy(const Args& args) {
    dit::DitConfig config = dit::DitConfig::real();
    config.num_layers = args.real_layers;
    config.mm_layers = {0};       // layer 0: mm + gelu7 (as the real model's first layers)
    config.gelu7_layers = {0};    // layer 1..: shared swiglu7 (the real model's middle)
    const std::string dir = args.tmp + "/real";
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
        dit::DitOptions o;
        o.precision = dit::Precision::kFP32;
        auto weights = dit::DitModel::random(config, o, 5).weights();
        models::TensorCollector collector;
        weights.visit(collector, config, at::kFloat);
        std::map<std::string, at::Tensor> tensors;
        for (const auto& [k, t] : collector.tensors()) tensors[k] = t.dim() == 2 ? t.to(at::kBFloat16) : t;
        io::write_safetensors(dir + "/model.safetensors", tensors);
    }
    nlohmann::json arch = {{"num_layers", config.num_layers}, {"mm_layers", config.mm_layers},
                           {"gelu7_layers", config.gelu7_layers}};
    std::FILE* f = std::fopen((dir + "/config.json").c_str(), "w");
    std::fprintf(f, "%s\n", nlohmann::json{{"arch_config", arch}}.dump().c_str());
    std::fclose(f);
    // ~530 tokens: 4 latent frames of 16x28 (448 video tokens), 17 audio frames, 64 text tokens.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
    const auto packed = pipeline::pack(at::randn({1, 48, 4, 16, 28}, gen), at::randn({1, 17, 64}, gen),
                                       at::randn({1, 64, 3584}, gen), 64, pipeline::DataProxyConfig{});
    compare_models("real-width", dir, config, packed, args.tmp);
    fs::remove_all(dir);
}

double median_ms(const std::function<void()>& fn, int reps) {
    auto t0 = Clock::now();
    fn();  // warm-up (and the only run when one takes long)
    const double first = seconds_since(t0) * 1e3;
    if (first > 4000 || reps <= 0) return first;
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        t0 = Clock::now();
        fn();
        ms.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

void gemm_speed(const Args& args) {
    const auto real = dit::DitConfig::real();
    struct Shape {
        const char* name;
        int64_t n, k;
    };
    const std::vector<Shape> shapes = {{"qkv", real.qkv_rows(), real.hidden_size},
                                       {"up (swiglu7)", 2LL * real.swiglu_inner(), real.hidden_size},
                                       {"down (swiglu7)", real.hidden_size, real.swiglu_inner()}};
    std::printf("\n#### weight-only int8 GEMM: at::_weight_int8pack_mm vs dequantize into bf16 + at::linear (ms, "
                "median of %d after 1 warm-up)\n\n", args.reps);
    std::printf("| matrix | N x K | M | int8pack_mm | dequant | linear bf16 | dequant + linear | winner | int8pack "
                "GFLOP/s | deq+linear GFLOP/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    for (const auto& s : shapes) {
        const at::Tensor w = at::randn({s.n, s.k}, gen).div_(std::sqrt(double(s.k))).to(at::kBFloat16);
        const auto q = models::quantize_rows(w, models::WeightFormat::kInt8);
        const at::Tensor scales_bf16 = q.scale.to(at::kBFloat16);
        // ATen's int8pack kernel reads K in blocks of 32 and segfaults otherwise (torch 2.15 CPU,
        // measured: K = 13,656 and 13,660 crash, 13,664 works); the real down_proj has K = 13,652.
        // Zero columns change nothing: the weight is padded once (as a loader would), the
        // activations per call (inside the timing).
        const int64_t kpad = (s.k + 31) / 32 * 32;
        const at::Tensor wq_padded = kpad == s.k ? q.values : at::constant_pad_nd(q.values, {0, kpad - s.k});
        at::Tensor scratch = at::empty({s.n, s.k}, at::kBFloat16);
        for (int64_t m : {16, 256, 1024, 4096}) {
            if (m > args.max_m) continue;
            const at::Tensor x = at::randn({m, s.k}, gen).to(at::kBFloat16);
            at::Tensor y1, y2;
            const double t_pack = median_ms(
                [&] {
                    const at::Tensor xp = kpad == s.k ? x : at::constant_pad_nd(x, {0, kpad - s.k});
                    y1 = at::_weight_int8pack_mm(xp, wq_padded, scales_bf16);
                },
                args.reps);
            const double t_deq = median_ms([&] { models::dequantize_into(scratch, q.values, q.scale); }, args.reps);
            const double t_lin = median_ms([&] { y2 = at::linear(x, scratch); }, args.reps);
            const double t_both = t_deq + t_lin;
            const double flop = 2.0 * m * s.n * s.k;
            const double agree = rel_l2(y1, y2);
            std::printf("| %s%s | %lld x %lld | %lld | %.1f | %.1f | %.1f | %.1f | %s | %.1f | %.1f |\n", s.name, kpad == s.k ? "" : " (K padded to 32)",
                        static_cast<long long>(s.n), static_cast<long long>(s.k), static_cast<long long>(m), t_pack,
                        t_deq, t_lin, t_both, t_pack < t_both ? "int8pack_mm" : "dequant + linear",
                        flop / t_pack / 1e6, flop / t_both / 1e6);
            if (agree > 1e-2) std::printf("|  | (outputs differ: rel L2 %.3g) |\n", agree);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "canter_bench_quant: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--reps") args.reps = std::atoi(value().c_str());
        else if (a == "--real-layers") args.real_layers = std::atoi(value().c_str());
        else if (a == "--skip-accuracy") args.accuracy = false;
        else if (a == "--skip-gemm") args.gemm = false;
        else if (a == "--golden") args.golden = value();
        else if (a == "--tmp") args.tmp = value();
        else if (a == "--max-m") args.max_m = std::atoll(value().c_str());
        else {
            std::fprintf(stderr, "canter_bench_quant: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
    try {
        c10::InferenceMode guard;
        std::printf("canter %s (%s), %d threads\n", canter::kVersion, canter::backend_description(),
                    at::get_num_threads());
        fs::create_directories(args.tmp);
        if (args.accuracy) {
            golden_accuracy(args);
            real_accuracy(args);
        }
        if (args.gemm) gemm_speed(args);
        fs::remove_all(args.tmp);
    } catch (const canter::Error& e) {
        std::fprintf(stderr, "canter_bench_quant: %s\n", e.what());
        return canter::exit_status_for(e.code());
    }
    return 0;
}
