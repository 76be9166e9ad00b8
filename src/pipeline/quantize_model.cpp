// `canter quantize`: checks everything, then writes the quantized components tensor by tensor
// from the memory map and carries every other file of the model folder over unchanged.
#include "pipeline/quantize_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "pipeline/model_manifest.h"
#include "util/check.h"

namespace canter::pipeline {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestQuantizationField = "quantization";
// fp32 temporaries of quantize_rows are bounded by this many elements (64 MB), whatever the
// matrix: a real up_gate_proj (3 x 27,304 x 5,120) would otherwise need ~5 GB of them.
constexpr int64_t kChunkElements = int64_t(16) << 20;

std::string human_bytes(uint64_t n) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(n >= (1ull << 30) ? 2 : 1);
    if (n >= (1ull << 30)) os << n / double(1ull << 30) << " GiB";
    else if (n >= (1ull << 20)) os << n / double(1ull << 20) << " MiB";
    else os << n / 1024.0 << " KiB";
    return os.str();
}

bool is_inside(const fs::path& child, const fs::path& parent) {
    auto c = child.begin();
    for (auto p = parent.begin(); p != parent.end(); ++p, ++c)
        if (c == child.end() || *p != *c) return false;
    return true;
}

uint64_t statvfs_free_bytes(const std::string& dir) {
    struct statvfs s {};
    CANTER_CHECK(::statvfs(dir.c_str(), &s) == 0, IO, dir << ": cannot query the free disk space (statvfs)");
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

bool same_filesystem(const fs::path& a, const fs::path& b) {
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
}

fs::path existing_ancestor(fs::path p) {
    while (!p.empty() && !fs::exists(p)) p = p.parent_path();
    return p.empty() ? fs::current_path() : p;
}

// Where the quantized file of a component goes, relative to the input folder: the same path
// as a named .safetensors file, else `<folder>/model.safetensors`.
std::string output_of(const ComponentRef& ref, const fs::path& in) {
    const std::string named = ref.weights.empty() ? ref.path : ref.weights;
    const fs::path target = fs::canonical(named);
    CANTER_CHECK(is_inside(target, in), InvalidArgument,
                 ref.role << ": " << named << " lies outside the model folder " << in.string()
                          << "; canter quantize writes the output in the input's layout, so a quantized "
                             "component must be inside it");
    const fs::path rel = fs::relative(target, in);
    if (fs::is_directory(target)) return (rel / "model.safetensors").string();
    CANTER_CHECK(target.extension() == ".safetensors", Unsupported,
                 ref.role << ": " << named << " is a shard index; name the component's folder ('path') instead, "
                          << "so the quantized single file can replace its shards");
    return rel.string();
}

// A model component's source: the checkpoint a loader opens and the folder its config is in
// (engine.cpp load_dit: `weights` when given, else `path`).
QuantizePlan plan_manifest_dit(const ComponentRef& ref, const fs::path& in, models::WeightFormat format) {
    const std::string source = ref.weights.empty() ? ref.path : ref.weights;
    const std::string config_dir = ref.path.empty() ? fs::path(ref.weights).parent_path().string() : ref.path;
    return plan_dit(ref.role, source, config_dir, &ref.arch, format, output_of(ref, in));
}

// Relative component paths that leave the input folder are made absolute in the output's
// manifest, so the output still finds them (the output folder lives somewhere else).
void absolutize_outside_paths(nlohmann::ordered_json& j, const fs::path& in) {
    auto fix = [&](nlohmann::ordered_json& v) {
        if (!v.is_string()) return;
        const fs::path p = v.get<std::string>();
        if (p.is_absolute()) return;
        const fs::path abs = (in / p).lexically_normal();
        if (!is_inside(abs, in)) v = abs.string();
    };
    auto fix_component = [&](nlohmann::ordered_json& c) {
        if (c.is_string()) fix(c);
        else if (c.is_object())
            for (const char* k : {"path", "config", "weights"})
                if (c.contains(k)) fix(c[k]);
    };
    for (const char* k : {"text_encoder", "tokenizer", "video_vae", "turbo_vaed", "audio_vae"})
        if (j.contains(k)) fix_component(j[k]);
    if (j.contains("dit") && j["dit"].is_object())
        for (auto& [role, c] : j["dit"].items()) fix_component(c);
}

struct Carried {
    fs::path from;  // canonical
    fs::path rel;
    bool link = false;
};

// Rows of `w` in chunks, so the fp32 temporaries stay at kChunkElements whatever its size.
models::QuantizedMatrix quantize_in_chunks(const at::Tensor& w, models::WeightFormat format) {
    const int64_t rows = w.size(0), cols = std::max<int64_t>(w.size(1), 1);
    const int64_t step = std::max<int64_t>(1, kChunkElements / cols);
    const auto dtype = format == models::WeightFormat::kInt8 ? at::kChar : at::kFloat8_e4m3fn;
    models::QuantizedMatrix out;
    out.values = at::empty(w.sizes(), at::TensorOptions().dtype(dtype));
    out.scale = at::empty({rows}, at::TensorOptions().dtype(at::kFloat));
    for (int64_t r = 0; r < rows; r += step) {
        const int64_t n = std::min(step, rows - r);
        const auto q = models::quantize_rows(w.narrow(0, r, n), format);
        out.values.narrow(0, r, n).copy_(q.values);
        out.scale.narrow(0, r, n).copy_(q.scale);
    }
    return out;
}

void write_component(const QuantizePlan& plan, const fs::path& root, models::WeightFormat format,
                     const std::function<void(const std::string&)>& progress) {
    c10::InferenceMode guard;
    const io::Checkpoint ck = io::Checkpoint::open(plan.source);
    std::map<std::string, std::shared_ptr<io::SafetensorsFile>> files;
    const fs::path target = root / plan.output;
    fs::create_directories(target.parent_path());
    io::SafetensorsWriter writer(target.string(), plan.entries, plan.metadata);
    uint64_t done = 0, next_report = plan.bytes_in / 4;
    for (size_t i = 0; i < plan.entries.size(); ++i) {
        const std::string& name = plan.entries[i].name;
        auto& file = files[ck.file_of(name)];
        if (!file) file = io::SafetensorsFile::open(ck.file_of(name));
        const io::TensorInfo* info = file->find(name);
        CANTER_CHECK(info, Internal, file->path() << ": tensor '" << name << "' vanished since it was planned");
        if (plan.block_matrices.count(name)) {
            const auto q = quantize_in_chunks(file->tensor(*info), format);
            writer.write(name, q.values);
            writer.write(plan.entries.at(++i).name, q.scale);
        } else {
            writer.write(name, file->tensor(*info));  // same dtype: the same bytes
        }
        // Drop the pages just read, so a 30 GB input does not fill the resident set.
        file->release(*info);
        done += info->end - info->begin;
        if (progress && plan.bytes_in > (256ull << 20) && done >= next_report && done < plan.bytes_in) {
            progress("  " + plan.role + ": " + std::to_string(100 * done / plan.bytes_in) + " %");
            next_report += plan.bytes_in / 4;
        }
    }
    writer.finish();
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.close();
    CANTER_CHECK(out.good(), IO, path.string() << ": write failed");
}

}  // namespace

QuantizeReport quantize_model_folder(const QuantizeRequest& request,
                                     const std::function<void(const std::string&)>& progress,
                                     const QuantizeHooks& hooks) {
    const auto t0 = std::chrono::steady_clock::now();
    auto say = [&](const std::string& line) {
        if (progress) progress(line);
    };
    CANTER_CHECK(request.format == "int8" || request.format == "fp8", InvalidArgument,
                 "quantize: format must be 'int8' or 'fp8', got '" << request.format << "' (--format)");
    const auto format = models::parse_weight_format(request.format);
    CANTER_CHECK(!request.model.empty(), InvalidArgument, "quantize: no input model folder (--model)");
    CANTER_CHECK(!request.out.empty(), InvalidArgument, "quantize: no output folder (--out)");

    // --- the input ------------------------------------------------------------------------
    CANTER_CHECK(fs::exists(request.model), NotFound, request.model << ": no such model folder");
    CANTER_CHECK(fs::is_directory(request.model), InvalidArgument,
                 request.model << ": not a folder (canter quantize takes a canter model folder or a DiT folder)");
    const fs::path in = fs::canonical(request.model);
    const fs::path manifest_file = in / kManifestFileName;
    const bool has_manifest = fs::exists(manifest_file);
    std::vector<QuantizePlan> plans;
    if (has_manifest) {
        const auto m = ModelManifest::load(in.string());
        std::set<std::string> outputs;
        for (const auto* ref : {&m.dit_distill, &m.dit_base, &m.dit_sr_540p, &m.dit_sr_1080p}) {
            if (!*ref) continue;
            auto plan = plan_manifest_dit(**ref, in, format);
            // Two roles naming one checkpoint share one output file.
            if (outputs.insert(plan.output).second) plans.push_back(std::move(plan));
        }
        if (m.text_encoder) {
            ComponentRef ref = *m.text_encoder;
            ref.weights.clear();  // the encoder loads its folder (config.json + model*.safetensors)
            auto plan = plan_t5gemma(ref.role, ref.path, format, output_of(ref, in));
            if (outputs.insert(plan.output).second) plans.push_back(std::move(plan));
        }
    } else if (fs::exists(in / "model.safetensors") || fs::exists(in / "model.safetensors.index.json")) {
        plans.push_back(plan_dit("dit", in.string(), in.string(), nullptr, format, "model.safetensors"));
    } else {
        CANTER_THROW(InvalidArgument, in.string() << " is not a model folder: it has no " << kManifestFileName
                                                  << " (a canter model) and no model.safetensors[.index.json] (a "
                                                     "DiT folder)");
    }

    // --- the output -----------------------------------------------------------------------
    const fs::path out = fs::weakly_canonical(fs::absolute(request.out));
    if (fs::exists(out)) {
        CANTER_CHECK(fs::is_directory(out), InvalidArgument, out.string() << " exists and is not a folder (--out)");
        CANTER_CHECK(fs::is_empty(out), InvalidArgument,
                     out.string() << " exists and is not empty; canter quantize never overwrites: name a new or "
                                     "empty folder (--out)");
    }
    CANTER_CHECK(!is_inside(out, in), InvalidArgument,
                 out.string() << " lies inside the input model folder " << in.string() << " (--out)");
    const fs::path parent = out.parent_path();
    const fs::path anchor = existing_ancestor(parent);

    // --- what is carried over --------------------------------------------------------------
    std::set<std::string> replaced;
    for (const auto& p : plans) replaced.insert(p.input_files.begin(), p.input_files.end());
    std::vector<Carried> carried;
    uint64_t copy_bytes = 0;
    for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_regular_file()) continue;  // follows symlinks: a linked file is carried as a file
        const fs::path from = fs::canonical(it->path());
        const fs::path rel = fs::relative(it->path(), in);
        if (replaced.count(from.string()) || (has_manifest && rel == kManifestFileName)) continue;
        Carried c{from, rel, same_filesystem(from, anchor)};
        if (!c.link) copy_bytes += fs::file_size(from);
        carried.push_back(std::move(c));
    }

    // --- room on the disk, before anything is written ---------------------------------------
    uint64_t weight_bytes = 0;
    for (const auto& p : plans) weight_bytes += p.file_size;
    const uint64_t needed = weight_bytes + copy_bytes + (1ull << 20);  // + manifest and folders
    const uint64_t free = hooks.free_bytes ? hooks.free_bytes(anchor.string()) : statvfs_free_bytes(anchor.string());
    CANTER_CHECK(needed <= free, IO,
                 out.string() << ": not enough free disk space: the quantized model needs " << human_bytes(needed)
                              << " (" << human_bytes(weight_bytes) << " of weights, " << human_bytes(copy_bytes)
                              << " of copied files), " << anchor.string() << " has " << human_bytes(free) << " free");

    // --- write, into a sibling temporary folder renamed into place --------------------------
    const fs::path tmp = parent / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
    QuantizeReport report;
    report.out_dir = out.string();
    report.format = request.format;
    std::error_code ec;
    fs::remove_all(tmp, ec);
    try {
        fs::create_directories(tmp);
        for (const auto& c : carried) {
            const fs::path dst = tmp / c.rel;
            fs::create_directories(dst.parent_path());
            bool linked = false;
            if (c.link) {
                fs::create_hard_link(c.from, dst, ec);  // refused e.g. by protected_hardlinks: copy
                linked = !ec;
            }
            if (!linked) fs::copy_file(c.from, dst);
            (linked ? report.files_linked : report.files_copied)++;
        }
        for (const auto& p : plans) {
            say("quantizing " + p.role + " (" + std::to_string(p.block_matrices.size()) + " block matrices) -> " +
                p.output);
            write_component(p, tmp, format, progress);
            QuantizedComponent c;
            c.role = p.role;
            c.weights = p.output;
            c.quantized = static_cast<int>(p.block_matrices.size());
            c.kept = static_cast<int>(p.entries.size() - 2 * p.block_matrices.size());
            c.dropped = static_cast<int>(p.dropped.size());
            c.bytes_in = p.bytes_in;
            c.bytes_out = fs::file_size(tmp / p.output);
            say("  " + p.role + ": " + human_bytes(c.bytes_in) + " of tensors -> " + human_bytes(c.bytes_out) +
                (c.dropped ? " (" + std::to_string(c.dropped) + " decoder tensors dropped)" : ""));
            report.components.push_back(std::move(c));
        }
        if (has_manifest) {
            std::ifstream f(manifest_file);
            nlohmann::ordered_json j = nlohmann::ordered_json::parse(f);
            absolutize_outside_paths(j, in);
            j[kManifestQuantizationField] = request.format;
            write_text(tmp / kManifestFileName, j.dump(2) + "\n");
        }
        if (fs::exists(out)) fs::remove(out);  // checked empty above
        fs::rename(tmp, out);
    } catch (const fs::filesystem_error& e) {
        fs::remove_all(tmp, ec);
        CANTER_THROW(IO, out.string() << ": cannot write the quantized model: " << e.what());
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

}  // namespace canter::pipeline

namespace canter {

QuantizeReport quantize_model(const QuantizeRequest& request, const std::function<void(const std::string&)>& progress) {
    return pipeline::quantize_model_folder(request, progress, {});
}

}  // namespace canter
