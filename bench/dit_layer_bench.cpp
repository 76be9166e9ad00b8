// One MagiHuman DiT layer at the real width on the CPU: ms per layer, achieved TFLOP/s and the
// ratio to plain GEMMs measured in the same run (the target: >= 60 % of the GEMM rate).
//
// Geometry: a 5 s clip at 256p (16:9 -> 448x256 px -> latent 28x16, 32 latent frames, patch 2
// -> 3584 video tokens) + 126 audio frames + 300 real text tokens = 4010 tokens.
//
// Without native bf16 GEMM (no AVX512-BF16/AMX) canter's bf16 mode keeps bf16-valued weights
// widened to fp32 and multiplies in fp32 (see dit_matrix_dtype), because ATen's bf16 CPU GEMM
// is then a scalar fallback. Both reference rates are printed so the ratio can be read
// against the path canter actually takes (fp32) and against the one the issue names (bf16).
//
// Usage: canter_bench_dit_layer [--reps N] [--mm-reps N] [--bf16-rows M] [--text-len N] [--device cpu|cuda]
// On CUDA every timed run ends with a device synchronisation, and the bf16 reference GEMM uses
// all L rows (cuBLAS has no slow bf16 fallback).
// Defaults take ~4.5 min on an idle 2-core AVX2 machine; --reps 1 --mm-reps 0 about 1.5 min.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "canter/error.h"
#include "canter/version.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_model.h"
#include "models/dit/rope.h"
#include "pipeline/packing.h"
#include "tensor/attention.h"
#include "tensor/compat.h"
#include "tensor/device_info.h"
#include "tensor/ops.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    int reps = 3;          // timed repetitions per item (median reported), after 1 warm-up
    int mm_reps = 1;       // the mm layer costs as much as the shared one: 1 run keeps < 3 min
    int64_t bf16_rows = 128;  // ATen's bf16 CPU GEMM is ~100x slower: a smaller M, same rate
    int64_t text_len = 300;
    std::string device = "cpu";
};

// The device every tensor of the run lives on (--device).
c10::Device g_device(c10::kCPU);
at::Tensor randn(at::IntArrayRef shape) { return at::randn(shape, at::TensorOptions().device(g_device)); }
at::Tensor rand(at::IntArrayRef shape) { return at::rand(shape, at::TensorOptions().device(g_device)); }

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        auto next = [&]() -> long {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", s.c_str());
                std::exit(2);
            }
            return std::strtol(argv[++i], nullptr, 10);
        };
        if (s == "--reps") a.reps = static_cast<int>(std::max(1L, next()));
        else if (s == "--mm-reps") a.mm_reps = static_cast<int>(std::max(0L, next()));
        else if (s == "--bf16-rows") a.bf16_rows = std::max(1L, next());
        else if (s == "--text-len") a.text_len = std::clamp(next(), 0L, 640L);
        else if (s == "--device" && i + 1 < argc) a.device = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: %s [--reps N] [--mm-reps N (0 = skip)] [--bf16-rows M] "
                         "[--text-len N] [--device cpu|cuda]\n",
                         argv[0]);
            std::exit(s == "-h" || s == "--help" ? 0 : 2);
        }
    }
    return a;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
    double seconds = 0;    // median wall time of one run
    double cpu_share = 0;  // process CPU time / (wall time * threads) over the timed runs
};

// Median of `reps` runs after `warmup` untimed runs. ATen CPU ops are synchronous, so wall
// time around the call is the op's time. The CPU share shows contention: on a quiet machine
// both threads stay busy (~100 %); other processes on the two cores push it down.
Timing time_median(const std::function<void()>& fn, int reps, int warmup = 1) {
    for (int i = 0; i < warmup; ++i) fn();
    canter::tensor::synchronize(g_device);
    std::vector<double> t;
    const double cpu0 = cpu_seconds();
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        fn();
        canter::tensor::synchronize(g_device);  // CUDA work is asynchronous
        t.push_back(seconds_since(t0));
    }
    const double cpu = cpu_seconds() - cpu0;
    double wall = 0;
    for (double x : t) wall += x;
    std::sort(t.begin(), t.end());
    const size_t n = t.size();
    Timing r;
    r.seconds = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    r.cpu_share = cpu / (wall * at::get_num_threads());
    return r;
}

std::string read_file(const char* path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// CPU model and the SIMD features that decide which GEMM kernels ATen/OpenBLAS can use.
std::string cpu_summary() {
    const std::string info = read_file("/proc/cpuinfo");
    std::string model = "unknown CPU";
    std::set<std::string> flags;
    std::istringstream lines(info);
    for (std::string line; std::getline(lines, line);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string key = line.substr(0, line.find_first_of(" \t"));
        std::string value = line.substr(std::min(colon + 2, line.size()));
        if (key == "model" && line.rfind("model name", 0) == 0) model = value;
        if (key == "flags" && flags.empty()) {
            std::istringstream fs(value);
            for (std::string f; fs >> f;) flags.insert(f);
        }
    }
    std::string simd;
    for (const char* f : {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
        simd += std::string(" ") + f + (flags.count(f) ? "=yes" : "=no");
    return model + ";" + simd;
}

std::string load_average() {
    std::string s = read_file("/proc/loadavg");
    return s.substr(0, s.find(' ', s.find(' ', s.find(' ') + 1) + 1));  // 1, 5, 15 min
}

// Fraction of all CPUs' time spent non-idle over `seconds` (from /proc/stat).
double machine_busy_fraction(double seconds = 1.0) {
    auto sample = [] {
        std::istringstream in(read_file("/proc/stat"));
        std::string cpu;
        double v, total = 0, idle = 0;
        in >> cpu;
        for (int i = 0; i < 8 && in >> v; ++i) {
            total += v;
            if (i == 3 || i == 4) idle += v;  // idle, iowait
        }
        return std::make_pair(total, idle);
    };
    const auto a = sample();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const auto b = sample();
    const double dt = b.first - a.first;
    return dt > 0 ? 1.0 - (b.second - a.second) / dt : 0.0;
}

struct Row {
    std::string item, shape;
    double flop;  // 0: not a FLOP-rated item
    Timing timing;
    int reps;
};

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(2);  // both cores of the target machine
    c10::InferenceMode inference;
    using namespace canter;
    try {
        g_device = tensor::parse_device(args.device, "--device");
    } catch (const Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return exit_status_for(e.code());
    }
    const bool on_cuda = g_device.is_cuda();
    if (on_cuda) tensor::disable_tf32();  // the fp32 reference row is plain fp32

    std::printf("# canter DiT layer benchmark\n\n");
    std::printf("- CPU: %s\n", cpu_summary().c_str());
    std::printf("- backend: %s\n", backend_description());
    dit::DitOptions bf16_options;
    bf16_options.precision = dit::Precision::kBF16;
    bf16_options.device = g_device;
    std::printf("- device: %s; native bf16 GEMM: %s (block matrices held as %s)\n", g_device.str().c_str(),
                tensor::has_fast_bf16_matmul(g_device) ? "yes" : "no",
                c10::toString(dit::dit_matrix_dtype(bf16_options)));
    std::printf("- kernels for the DiT layer rows: %s (CANTER_KERNELS)\n",
                tensor::kernels_from_env() == tensor::KernelChoice::kReference ? "reference" : "fused");
    // Two cores: any other busy process (a compiler) shows up directly in the timings. The
    // load average lags by a minute, so sample the CPU counters over one second as well.
    const double busy = machine_busy_fraction();
    std::printf("- machine before start: %.0f %% busy over 1 s, load average %s\n", 100 * busy,
                load_average().c_str());
    if (busy > 0.1)
        std::printf("- WARNING: the machine is busy; timings are inflated (see CPU use)\n");
    std::fflush(stdout);

    // --- packed 5 s 256p sequence ------------------------------------------------------------
    const int64_t T = 125 / 4 + 1, Hl = 256 / 16, Wl = 448 / 16;  // VAE: 4x time, 16x space
    at::manual_seed(0);
    pipeline::PackedInput packed =
        pipeline::pack(at::randn({1, 48, T, Hl, Wl}), at::randn({1, 126, 64}),
                       at::randn({1, 640, 3584}), args.text_len, pipeline::DataProxyConfig{});
    const dit::DitSequence& seq = packed.seq;
    const int64_t L = seq.length();

    dit::DitConfig cfg = dit::DitConfig::real();
    cfg.num_layers = 1;
    cfg.mm_layers = {};
    cfg.gelu7_layers = {};  // layer 0 becomes a shared swiglu7 layer, like layers 4..35
    cfg.local_attn_layers = {};
    const int64_t H = cfg.hidden_size, D = cfg.head_dim, Hq = cfg.num_heads_q;
    const int64_t Hkv = cfg.num_heads_kv;
    const int64_t qkv_out = cfg.qkv_rows(), up_out = cfg.mlp_up_rows(0), inner = cfg.mlp_inner(0);

    // FLOPs: 2*N*in*out per linear; attention 2*L*L*D per head for QK^T and again for PV.
    // Elementwise work (norms, RoPE, gating, swiglu7, bf16 rounding) is not counted.
    const double f_qkv = 2.0 * L * H * qkv_out, f_proj = 2.0 * L * (Hq * D) * H;
    const double f_up = 2.0 * L * H * up_out, f_down = 2.0 * L * inner * H;
    const double f_lin = f_qkv + f_proj + f_up + f_down;
    const double f_attn = 4.0 * L * L * D * Hq;
    const double f_layer = f_lin + f_attn;

    std::printf("- tokens: L = %lld (video %lld = %lldx%lldx%lld, audio %lld, text %lld)\n",
                (long long)L, (long long)seq.num_video(), (long long)T, (long long)(Hl / 2),
                (long long)(Wl / 2), (long long)seq.num_audio(), (long long)seq.num_text());
    std::printf("- layer: %s\n", cfg.summary().c_str());
    std::printf("- FLOP per layer: qkv %lldx%lld %.4g + proj %lldx%lld %.4g + up %lldx%lld %.4g"
                " + down %lldx%lld %.4g = linears %.4g; attention 4*L*L*%lld*%lld = %.4g;"
                " total %.4g\n",
                (long long)H, (long long)qkv_out, f_qkv, (long long)(Hq * D), (long long)H, f_proj,
                (long long)H, (long long)up_out, f_up, (long long)inner, (long long)H, f_down,
                f_lin, (long long)D, (long long)Hq, f_attn, f_layer);
    std::printf("- repetitions: median of %d after 1 warm-up (mm layer: %d)\n\n", args.reps,
                args.mm_reps);
    std::fflush(stdout);

    std::vector<Row> rows;
    auto report = [&](const Row& r) {
        rows.push_back(r);
        std::fprintf(stderr, "  %-44s %10.1f ms  cpu %3.0f %%\n", r.item.c_str(),
                     r.timing.seconds * 1e3, 100 * r.timing.cpu_share);
    };
    const auto t_start = Clock::now();

    // --- reference GEMMs: x [M, 5120] times w [5120, 5120]^T, as tensor::linear calls them --
    // The fp32 GEMM runs at the start and again at the end, with more repetitions than the
    // rest (each takes ~1.5 s): on a shared VM its rate drifts by ~10 %, and the faster of the
    // two medians is the fairest "machine peak" to hold the layer against.
    at::Tensor gemm_w = randn({H, H}) / std::sqrt(double(H));  // on --device
    at::Tensor gemm_x = randn({L, H});
    const int gemm_reps = std::max(5, args.reps);
    auto fp32_gemm = [&](const std::string& when) {
        const Timing s = time_median([&] { (void)at::linear(gemm_x, gemm_w); }, gemm_reps);
        report({"plain fp32 GEMM (ATen/OpenBLAS), " + when,
                std::to_string(L) + "x" + std::to_string(H) + " * " + std::to_string(H) + "x" +
                    std::to_string(H),
                2.0 * L * H * H, s, gemm_reps});
    };
    fp32_gemm("start");
    {
        // ATen's bf16 CPU GEMM without AVX512-BF16 is a scalar, single-threaded fallback,
        // ~100x slower: one timed run of fewer rows (its rate does not depend on M). Both
        // call forms, since the fallback's speed depends on the operand layout: at::linear
        // (w transposed, as tensor::linear calls it) and at::mm with w row-major.
        at::Tensor wb = gemm_w.to(at::kBFloat16), wbt = wb.t().contiguous();
        at::Tensor xb = gemm_x.narrow(0, 0, on_cuda ? L : std::min(args.bf16_rows, L)).to(at::kBFloat16);
        const int64_t M = xb.size(0);
        const std::string bf16_shape = std::to_string(M) + "x" + std::to_string(H) + " * " +
                                       std::to_string(H) + "x" + std::to_string(H);
        const int bf16_reps = on_cuda ? gemm_reps : 1, bf16_warmup = on_cuda ? 1 : 0;
        const Timing sb = time_median([&] { (void)at::linear(xb, wb); }, bf16_reps, bf16_warmup);
        report({"plain bf16 GEMM (ATen at::linear)", bf16_shape, 2.0 * M * H * H, sb, bf16_reps});
        const Timing sm = time_median([&] { (void)at::mm(xb, wbt); }, bf16_reps, bf16_warmup);
        report({"plain bf16 GEMM (ATen at::mm)", bf16_shape, 2.0 * M * H * H, sm, bf16_reps});
    }

    // --- whole layers ------------------------------------------------------------------------
    at::Tensor x = randn({L, H});
    Timing layer;
    {
        dit::DitModel model = dit::DitModel::random(cfg, bf16_options, 1);
        const dit::RopeTable rope = dit::rope_table(seq.coords.to(g_device), model.weights().rope_bands);
        layer = time_median(
            [&] { (void)model.forward_layer(0, x, seq, rope.sin, rope.cos); }, args.reps);
        report({"DiT layer, shared swiglu7 (bf16 mode)", "L=" + std::to_string(L), f_layer,
                layer, args.reps});

        // The breakdown items below skip their warm-up: the layer's runs already warmed the
        // same kernels and thread pool, and each run costs seconds.
        // The four linears alone, through the same tensor::linear calls the layer makes
        // (including the bf16 rounding of inputs and outputs).
        const auto& w = model.weights().layers[0];
        at::Tensor xo = randn({L, Hq * D}), xi = randn({L, inner});
        const Timing s_lin = time_median(
            [&] {
                (void)tensor::linear(x, w.linear_qkv, {}, true);
                (void)tensor::linear(xo, w.linear_proj, {}, true);
                (void)tensor::linear(x, w.up_gate_proj, {}, true);
                (void)tensor::linear(xi, w.down_proj, {}, true);
            },
            args.reps, 0);
        report({"4 linears alone (tensor::linear)", "qkv+proj+up+down", f_lin, s_lin, args.reps});
    }
    {
        // Attention alone: the layer's shapes with bf16-valued inputs, full (global) attention.
        at::Tensor q = tensor::round_bf16(randn({L, Hq, D}));
        at::Tensor k = tensor::round_bf16(randn({L, Hkv, D}));
        at::Tensor v = tensor::round_bf16(randn({L, Hkv, D}));
        // Both implementations behind tensor::attention, named explicitly (CANTER_KERNELS
        // only changes the default, which the layer rows above use).
        tensor::AttentionOptions ao;
        ao.bf16 = true;
        const double scale = 1.0 / std::sqrt(double(D));
        const std::string attn_shape = "q " + std::to_string(L) + "x" + std::to_string(Hq) + "x" +
                                       std::to_string(D) + ", kv x" + std::to_string(Hkv);
        ao.kernel = tensor::KernelChoice::kFused;
        const bool fused = tensor::fused_attention_applies(q, ao.bf16);
        const Timing s_fused =
            time_median([&] { (void)tensor::attention(q, k, v, {}, scale, ao); }, args.reps, 0);
        report({std::string("attention alone, fused (tensor::attention)") +
                    (fused ? "" : " [no fused kernel here: reference kernel]"),
                attn_shape, f_attn, s_fused, args.reps});
        ao.kernel = tensor::KernelChoice::kReference;
        const Timing s_attn =
            time_median([&] { (void)tensor::attention(q, k, v, {}, scale, ao); }, args.reps, 0);
        report({"attention alone, reference kernel", attn_shape, f_attn, s_attn, args.reps});

        // Just the two GEMMs per block that the reference kernel issues (same q_block, K and V
        // already head-major): the part of its time that is GEMM rather than softmax/copies.
        const int64_t G = Hq / Hkv, qb = ao.q_block;
        at::Tensor qh = randn({Hkv, G * qb, D});
        at::Tensor kh = randn({Hkv, L, D}), vh = randn({Hkv, L, D});
        at::Tensor p = rand({G * qb, L});
        const Timing s_gemm = time_median(
            [&] {
                for (int64_t h = 0; h < Hkv; ++h)
                    for (int64_t q0 = 0; q0 < L; q0 += qb) {
                        const int64_t nq = std::min(qb, L - q0);
                        at::Tensor s = at::mm(qh[h].narrow(0, 0, G * nq), kh[h].t());
                        (void)at::mm(p.narrow(0, 0, G * nq), vh[h]);
                    }
            },
            args.reps, 0);
        report({"attention GEMMs only (same blocking)",
                "(" + std::to_string(G * qb) + "x" + std::to_string(D) + " * " +
                    std::to_string(D) + "x" + std::to_string(L) + ", " + std::to_string(G * qb) +
                    "x" + std::to_string(L) + " * " + std::to_string(L) + "x" +
                    std::to_string(D) + ") per block",
                f_attn, s_gemm, args.reps});
    }
    if (args.mm_reps > 0) {
        // Sandwich layer: three experts, each token through its modality's weights (same
        // FLOPs; the linears split into row blocks of 3584, 126 and 300).
        dit::DitConfig mm = cfg;
        mm.mm_layers = {0};
        dit::DitModel model = dit::DitModel::random(mm, bf16_options, 2);
        const dit::RopeTable rope = dit::rope_table(seq.coords.to(g_device), model.weights().rope_bands);
        // The shared layer above warmed the allocator and thread pool; a warm-up here would
        // double the cost of the one run.
        const Timing s = time_median(
            [&] { (void)model.forward_layer(0, x, seq, rope.sin, rope.cos); }, args.mm_reps, 0);
        report({"DiT layer, mm sandwich swiglu7 (bf16 mode)", "L=" + std::to_string(L), f_layer,
                s, args.mm_reps});
    }

    fp32_gemm("end");
    // Reference rates: the faster fp32 median (start/end) and the faster bf16 call form.
    double fp32_rate = 0, bf16_rate = 0;
    for (const Row& r : rows) {
        const double rate = r.flop / r.timing.seconds;
        if (r.item.rfind("plain fp32", 0) == 0) fp32_rate = std::max(fp32_rate, rate);
        if (r.item.rfind("plain bf16", 0) == 0) bf16_rate = std::max(bf16_rate, rate);
    }

    // --- table -------------------------------------------------------------------------------
    std::printf("| item | shape | runs | ms | TFLOP/s | vs fp32 GEMM | vs bf16 GEMM | CPU use |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    double lin_s = 0, attn_s = 0;
    for (const Row& r : rows) {
        const double rate = r.flop / r.timing.seconds;
        std::printf("| %s | %s | %d | %.0f | %.4f | %.0f %% | %.0f %% | %.0f %% |\n",
                    r.item.c_str(), r.shape.c_str(), r.reps, r.timing.seconds * 1e3, rate / 1e12,
                    100 * rate / fp32_rate, 100 * rate / bf16_rate, 100 * r.timing.cpu_share);
        if (r.item.rfind("4 linears", 0) == 0) lin_s = r.timing.seconds;
        if (r.item.rfind("attention alone, fused", 0) == 0) attn_s = r.timing.seconds;  // the layer's path
    }
    const double layer_s = layer.seconds, rest = layer_s - lin_s - attn_s;
    std::printf("| rest of the shared layer (norms, RoPE, gate, swiglu7, copies) | layer - "
                "linears - attention | | %.0f | | | | |\n",
                rest * 1e3);
    std::printf("\nCPU use = process CPU time / (wall time x %d threads) over the timed runs; well "
                "below 100 %% means other processes shared the cores (ATen's bf16 fallback "
                "is single-threaded: 50 %%).\n",
                at::get_num_threads());
    std::printf("Shared layer time split: linears %.0f %%, attention %.0f %%, rest %.0f %%.\n",
                100 * lin_s / layer_s, 100 * attn_s / layer_s, 100 * rest / layer_s);
    std::printf("Target (>= 60 %% of the GEMM rate) vs the fp32 GEMM canter uses here: %s "
                "(%.0f %%).\n",
                f_layer / layer_s >= 0.6 * fp32_rate ? "met" : "NOT met",
                100 * f_layer / layer_s / fp32_rate);
    std::printf("Bench wall time %.0f s; load average at end: %s\n", seconds_since(t_start),
                load_average().c_str());
    return 0;
}
