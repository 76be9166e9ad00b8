#include "pipeline/test_model_writer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "models/common/keyed_random.h"
#include "models/common/quantize.h"
#include "models/t5gemma/tokenizer.h"
#include "util/check.h"

namespace canter::pipeline {

namespace fs = std::filesystem;

namespace {

void write_weight(const WeightPlan& w, models::WeightFormat format, io::SafetensorsWriter& out) {
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    if (w.init != TensorInit::kNormal) {
        const at::Tensor t = w.init == TensorInit::kOnes ? at::ones(w.shape, f32) : at::zeros(w.shape, f32);
        out.write(w.key, t.to(io::aten_dtype(w.dtype)));
        return;
    }
    const int64_t rows = w.shape.at(0);
    int64_t row_elements = 1;
    for (size_t i = 1; i < w.shape.size(); ++i) row_elements *= w.shape[i];
    const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(row_elements, 1));
    std::vector<at::Tensor> scales;
    for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
        auto shape = w.shape;
        shape[0] = std::min(rows_per_chunk, rows - r0);
        at::Tensor chunk = at::empty(shape, f32);
        models::fill_keyed_normal(chunk, w.stream, r0 * row_elements, w.stddev);
        if (w.quantized) {
            // Quantized from the bf16 values, as `canter quantize` turns a released bf16
            // checkpoint into int8/fp8: the int8 model is the bf16 model, quantized.
            auto q = models::quantize_rows(chunk.to(at::kBFloat16), format);
            out.write_part(w.key, q.values);
            scales.push_back(q.scale);
        } else {
            out.write_part(w.key, chunk.to(io::aten_dtype(w.dtype)));
        }
    }
    if (w.quantized) out.write(models::scale_key(w.key), at::cat(scales));
}

void write_text(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    CANTER_CHECK(out.good(), IO, path.string() << ": cannot write");
    out << content;
    out.flush();
    CANTER_CHECK(out.good(), IO, path.string() << ": write failed (disk full?)");
}

}  // namespace

void write_safetensors_plan(const SafetensorsPlan& file, models::WeightFormat format, io::SafetensorsWriter& writer) {
    for (const auto& w : file.weights) write_weight(w, format, writer);
}

void write_model_plan(const ModelPlan& plan, const std::string& dir, const SafetensorsOpener& open, std::ostream* log) {
    const fs::path root(dir);
    const TestModelSummary summary = plan.summary();
    uint64_t done = 0;
    for (const auto& c : plan.components) {
        if (log)
            *log << "canter: " << c.role << " (" << c.folder << "): " << c.parameters << " parameters, "
                 << format_bytes(c.bytes()) << " in " << c.files.size() << " file(s)\n"
                 << std::flush;
        for (const auto& s : c.small) {
            write_text(root / s.path, s.content);
            done += s.content.size();
        }
        if (c.tokenizer) t5gemma::write_demo_tokenizer((root / c.folder).string());
        for (const auto& f : c.files) {
            fs::create_directories((root / f.path).parent_path());
            auto writer = open(f, f.entries(plan.format));
            write_safetensors_plan(f, plan.format, *writer);
            writer->finish();
            done += f.bytes;
            if (log)
                *log << "canter:   wrote " << f.path << " (" << format_bytes(f.bytes) << "), " << format_bytes(done)
                     << " of " << format_bytes(summary.bytes) << "\n"
                     << std::flush;
        }
    }
    write_text(root / plan.manifest.path, plan.manifest.content);
}

}  // namespace canter::pipeline
