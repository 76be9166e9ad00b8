// Layer streaming at the real width: the same DiT forward with its layers resident and
// streamed from the file (pread one layer ahead into a two-layer ring; on CUDA also uploaded
// on a copy stream), in one run, so the ratio is what streaming costs on this machine.
//
// The model: N real-width shared layers (DitConfig::real(), no sandwich/local layers) with
// random weights, written once to a folder in the chosen format. Tokens default to a 2 s 256p
// clip (1456 video + 51 audio + 640 text = 2147). --cold drops the file from the page cache
// before every streamed pass (posix_fadvise), so reads come from the disk as they do for a
// model larger than RAM; without it the second pass reads from the page cache.
//
// Usage: canter_bench_stream [--layers N] [--tokens L] [--format bf16|int8|fp8] [--reps N]
//                            [--device cpu|cuda] [--dir DIR] [--cold]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "canter/version.h"
#include "io/safetensors.h"
#include "models/common/quantize.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "tensor/compat.h"
#include "tensor/device_info.h"
#include "tensor/ops.h"

namespace {

namespace fs = std::filesystem;
using namespace canter;
using Clock = std::chrono::steady_clock;

struct Args {
    int layers = 4;
    int64_t tokens = 2147;
    std::string format = "int8";
    int reps = 2;
    std::string device = "cpu";
    std::string dir;
    bool cold = false;
};

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "canter_bench_stream: %s\n", what.c_str());
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(s + " needs a value");
            return argv[++i];
        };
        if (s == "--layers") a.layers = std::max(1, std::atoi(value().c_str()));
        else if (s == "--tokens") a.tokens = std::max(16L, std::atol(value().c_str()));
        else if (s == "--format") a.format = value();
        else if (s == "--reps") a.reps = std::max(1, std::atoi(value().c_str()));
        else if (s == "--device") a.device = value();
        else if (s == "--dir") a.dir = value();
        else if (s == "--cold") a.cold = true;
        else usage_error("unknown argument '" + s + "'");
    }
    if (a.format != "bf16" && a.format != "int8" && a.format != "fp8") usage_error("--format must be bf16, int8 or fp8");
    return a;
}

nlohmann::json arch(int layers) {
    // The real width; every layer a shared (E = 1) swiglu7 layer with global attention.
    return {{"num_layers", layers}, {"mm_layers", nlohmann::json::array()}, {"gelu7_layers", nlohmann::json::array()},
            {"local_attn_layers", nlohmann::json::array()}};
}

// Writes config.json + model.safetensors tensor by tensor (a real layer is 0.76 GB in bf16).
void write_model(const std::string& dir, const dit::DitConfig& config, const nlohmann::json& arch_json,
                 const std::string& format) {
    fs::create_directories(dir);
    std::ofstream(dir + "/config.json") << nlohmann::json{{"arch_config", arch_json}}.dump(2);
    models::SpecCollector specs;
    dit::DitWeights w;
    w.visit(specs, config, at::kBFloat16);
    const auto fmt = format == "bf16" ? models::WeightFormat::kAsStored : models::parse_weight_format(format);
    std::vector<io::SafetensorsWriter::Entry> entries;
    for (const auto& s : specs.specs()) {
        if (!s.required) continue;
        const bool quantized = s.is_block_matrix() && fmt != models::WeightFormat::kAsStored;
        const auto dtype = !s.is_block_matrix() ? io::DType::kF32
                           : !quantized         ? io::DType::kBF16
                           : fmt == models::WeightFormat::kInt8 ? io::DType::kI8 : io::DType::kF8E4M3;
        entries.push_back({s.key, dtype, s.shape});
        if (quantized) entries.push_back({models::scale_key(s.key), io::DType::kF32, {s.shape[0]}});
    }
    io::SafetensorsWriter out(dir + "/model.safetensors", entries);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    for (const auto& s : specs.specs()) {
        if (!s.required) continue;
        at::Tensor t = at::empty(s.shape, at::kFloat);
        if (s.key.find("norm") != std::string::npos) t.normal_(0.0, 0.1, gen);
        else if (s.key.size() > 5 && s.key.compare(s.key.size() - 5, 5, ".bias") == 0) t.zero_();
        else t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(s.shape.back())), gen);
        if (!s.is_block_matrix()) {
            out.write(s.key, t);
        } else if (fmt == models::WeightFormat::kAsStored) {
            out.write(s.key, t.to(at::kBFloat16));
        } else {
            auto q = models::quantize_rows(t, fmt);
            out.write(s.key, q.values);
            out.write(models::scale_key(s.key), q.scale);
        }
    }
    out.finish();
}

void drop_page_cache(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

double peak_rss_gib() {
    struct rusage u {};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    try {
        canter::tensor::InferenceGuard guard;
        const c10::Device device = canter::tensor::parse_device(a.device, "--device");
        const auto arch_json = arch(a.layers);
        auto config = canter::dit::DitConfig::real();
        config.apply(arch_json);
        config.validate();
        const std::string dir = a.dir.empty() ? (fs::temp_directory_path() / ("canter-stream-bench-" + a.format)).string() : a.dir;
        const std::string file = dir + "/model.safetensors";
        if (!fs::exists(file)) {
            const auto t0 = Clock::now();
            write_model(dir, config, arch_json, a.format);
            std::fprintf(stderr, "wrote %s (%.2f GB) in %.0f s\n", file.c_str(), fs::file_size(file) / 1e9,
                         std::chrono::duration<double>(Clock::now() - t0).count());
        }

        canter::dit::DitSequence seq;
        const int64_t nt = std::min<int64_t>(640, a.tokens / 3), na = 51, nv = a.tokens - nt - na;
        auto opts = at::TensorOptions().device(device);
        seq.video = at::randn({nv, config.video_in_channels}, opts);
        seq.audio = at::randn({na, config.audio_in_channels}, opts);
        seq.text = at::randn({nt, config.text_in_channels}, opts);
        seq.coords = at::zeros({a.tokens, 9}, opts);

        auto run = [&](bool stream, const char* label) {
            canter::dit::DitOptions o;
            o.precision = canter::dit::Precision::kBF16;
            o.device = device;
            o.stream_blocks = stream;
            const auto model = canter::dit::DitModel::load(dir, config, o);
            std::vector<double> times;
            canter::models::StreamStats last;
            for (int r = 0; r <= a.reps; ++r) {  // r = 0 warms up (first touch of the mapping)
                if (stream && a.cold) drop_page_cache(file);
                if (model.block_store()) const_cast<canter::models::BlockStore*>(model.block_store())->reset_stats();
                const auto t0 = Clock::now();
                model.forward(seq);
                canter::tensor::synchronize(device);
                if (r > 0) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
                if (model.block_store()) last = model.block_store()->stats();
            }
            std::sort(times.begin(), times.end());
            const double t = times[times.size() / 2];
            std::printf("| %s | %.2f | %.0f |", label, t, 1e3 * t / a.layers);
            if (stream) {
                std::printf(" %.2f | %.2f | %.2f |", last.bytes_read / 1e9, last.read_gbps(), last.wait_s);
                if (last.upload_s > 0)
                    std::printf(" %.2f (GPU stalled %.2f s) |", last.upload_bytes / 1e9 / last.upload_s, last.upload_stall_s);
                else std::printf(" - |");
            } else {
                std::printf(" - | - | - | - |");
            }
            std::printf(" %.2f |\n", peak_rss_gib());
            std::fflush(stdout);
            return t;
        };

        std::printf("canter %s, %s; %d real-width layers (%s), %lld tokens, device %s%s\n\n", canter::kVersion,
                    canter::tensor::describe_backend(canter::tensor::backend_info()).c_str(), a.layers, a.format.c_str(),
                    static_cast<long long>(a.tokens), a.device.c_str(), a.cold ? ", cold page cache" : "");
        std::printf("| layers | forward s | ms/layer | GB read | read GB/s | wait s | H2D GB/s | peak RSS GiB |\n");
        std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        const double resident = run(false, "resident");
        const double streamed = run(true, "streamed");
        std::printf("\nstreamed / resident = %.3f\n", streamed / resident);
        if (device.is_cuda()) {
            // The machine's pinned host-to-device rate, for the copy stream's share of it.
            const int64_t n = static_cast<int64_t>(fs::file_size(file) / a.layers);
            at::Tensor host = at::empty({n}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
            at::Tensor dev = at::empty({n}, at::TensorOptions().dtype(at::kByte).device(device));
            dev.copy_(host);
            canter::tensor::synchronize(device);
            const auto t0 = Clock::now();
            for (int r = 0; r < 5; ++r) dev.copy_(host, /*non_blocking=*/true);
            canter::tensor::synchronize(device);
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            std::printf("pinned H2D copy of one layer: %.2f GB/s\n", 5.0 * n / s / 1e9);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "canter_bench_stream: %s\n", e.what());
        return 1;
    }
    return 0;
}
