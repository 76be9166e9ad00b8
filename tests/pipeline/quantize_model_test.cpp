// `canter quantize` through the library: the exact output layout on the demo model (int8 and
// fp8), the quantized models loading and staying close to the originals, the golden DiT folder
// (a single DiT folder input), every refusal, and the loader's errors on hand-made files.
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "canter/engine.h"
#include "canter/quantize.h"
#include "conform/conform_internal.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/common/quantize.h"
#include "models/common/quantized_checkpoint.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "pipeline/packing.h"
#include "pipeline/quantize_model.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;

// One demo model for the whole suite (it takes a second to write).
const std::string& demo_model() {
    static const std::string dir = [] {
        const std::string d = testing::temp_dir("quant-demo") + "/model";
        make_demo_model(d);
        return d;
    }();
    return dir;
}

std::string quantized_demo(const std::string& format) {
    static std::map<std::string, std::string> done;
    auto& dir = done[format];
    if (dir.empty()) {
        dir = testing::temp_dir("quant-" + format) + "/out";
        quantize_model({demo_model(), dir, format});
    }
    return dir;
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
    const at::Tensor x = a.contiguous(), y = b.contiguous();
    return x.scalar_type() == y.scalar_type() && x.sizes() == y.sizes() &&
           std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * x.element_size()) == 0;
}

std::set<std::string> block_matrices_of(const std::vector<models::WeightSpec>& specs) {
    std::set<std::string> keys;
    for (const auto& s : specs)
        if (s.is_block_matrix()) keys.insert(s.key);
    return keys;
}

std::set<std::string> dit_block_matrices(const std::string& dir) {
    models::SpecCollector specs;
    dit::DitWeights w;
    w.visit(specs, dit::DitConfig::from_model_dir(dir), at::kBFloat16);
    return block_matrices_of(specs.specs());
}

std::set<std::string> t5gemma_block_matrices(const std::string& dir) {
    models::SpecCollector specs;
    t5gemma::T5GemmaWeights w;
    w.visit(specs, t5gemma::T5GemmaConfig::from_model_dir(dir), "model.encoder.", at::kBFloat16, at::kBFloat16);
    return block_matrices_of(specs.specs());
}

// Output = input with each block matrix as `format` + an F32 [rows] scale, everything else the
// same dtype, shape and bytes; the dequantized matrix within the format's rounding of the input.
void expect_quantized_layout(const std::string& in_dir, const std::string& out_dir, const std::set<std::string>& blocks,
                             const std::string& format) {
    SCOPED_TRACE(out_dir);
    const auto in = io::Checkpoint::open(in_dir);
    const auto out = io::Checkpoint::open(out_dir + "/model.safetensors");
    ASSERT_FALSE(blocks.empty());
    std::set<std::string> expected_names;
    for (const auto& name : in.names()) {
        expected_names.insert(name);
        if (blocks.count(name)) expected_names.insert(name + "_scale");
    }
    const auto names = out.names();
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected_names);
    const io::DType qtype = format == "int8" ? io::DType::kI8 : io::DType::kF8E4M3;
    for (const auto& name : in.names()) {
        const auto& a = in.info(name);
        const auto& b = out.info(name);
        EXPECT_EQ(a.shape, b.shape) << name;
        if (!blocks.count(name)) {
            EXPECT_EQ(a.dtype, b.dtype) << name;
            EXPECT_TRUE(same_bytes(in.tensor(name), out.tensor(name))) << name << " is not byte-identical";
            continue;
        }
        EXPECT_EQ(b.dtype, qtype) << name;
        const auto& s = out.info(name + "_scale");
        EXPECT_EQ(s.dtype, io::DType::kF32) << name;
        EXPECT_EQ(s.shape, std::vector<int64_t>{a.shape[0]}) << name;
        const at::Tensor w = in.tensor(name).to(at::kFloat);
        const at::Tensor scale = out.tensor(name + "_scale");
        const at::Tensor err = (models::dequantize(out.tensor(name), scale, at::kFloat) - w).abs();
        // int8: round to nearest step `scale`: |err| <= scale/2. fp8 e4m3: 3 mantissa bits, a
        // relative half-ulp of 2^-4 for normals, and half the smallest subnormal step (2^-10)
        // times the scale below them.
        const at::Tensor bound = format == "int8"
                                     ? scale.unsqueeze(1) * 0.5 * (1 + 1e-5)
                                     : w.abs() * std::ldexp(1.0, -4) + scale.unsqueeze(1) * std::ldexp(1.0, -10) * 1.001;
        EXPECT_TRUE((err <= bound).all().item<bool>()) << name << ": max error " << err.max().item<double>();
    }
    EXPECT_EQ(out.size(), in.size() + blocks.size());
    const auto meta = io::SafetensorsFile::open(out_dir + "/model.safetensors")->metadata();
    EXPECT_EQ(meta.at(models::kQuantizationMetadataKey), format);
}

class QuantizeDemo : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeDemo, LayoutIsExactlyTheSpec) {
    const std::string format = GetParam();
    const std::string in = demo_model(), out = quantized_demo(format);
    for (const char* role : {"dit/distill", "dit/sr_540p", "dit/sr_1080p"}) {
        const auto blocks = dit_block_matrices(in + "/" + role);
        EXPECT_EQ(blocks.size(), 16u);  // 4 layers x (qkv, proj, up_gate, down)
        expect_quantized_layout(in + "/" + role, out + "/" + role, blocks, format);
    }
    const auto te_blocks = t5gemma_block_matrices(in + "/text_encoder");
    EXPECT_EQ(te_blocks.size(), 14u);  // 2 layers x (q, k, v, o, gate, up, down)
    expect_quantized_layout(in + "/text_encoder", out + "/text_encoder", te_blocks, format);

    // Every other file is carried over byte for byte; the manifest gains only the format.
    int carried = 0;
    for (const auto& e : fs::recursive_directory_iterator(in)) {
        if (!e.is_regular_file()) continue;
        const fs::path rel = fs::relative(e.path(), in);
        ASSERT_TRUE(fs::exists(fs::path(out) / rel)) << rel;
        if (rel.filename() == "model.safetensors" && rel.parent_path() != "audio_vae") continue;
        if (rel == "canter.json") continue;
        EXPECT_EQ(read_file(e.path()), read_file(fs::path(out) / rel)) << rel;
        ++carried;
    }
    EXPECT_GE(carried, 10);
    auto manifest_in = nlohmann::json::parse(read_file(fs::path(in) / "canter.json"));
    auto manifest_out = nlohmann::json::parse(read_file(fs::path(out) / "canter.json"));
    EXPECT_EQ(manifest_out.value("quantization", ""), format);
    manifest_out.erase("quantization");
    EXPECT_EQ(manifest_in, manifest_out);
}

dit::DitOutput run_demo_dit(const std::string& dir, uint64_t seed) {
    dit::DitOptions options;
    options.precision = dit::Precision::kBF16;
    const auto model = dit::DitModel::load(dir, dit::DitConfig::from_model_dir(dir), options);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto packed = pipeline::pack(at::randn({1, 48, 3, 8, 8}, gen), at::randn({1, 9, 64}, gen),
                                       at::randn({1, 12, 64}, gen), 12, pipeline::DataProxyConfig{});
    return model.forward(packed.seq);
}

double rel_l2(const at::Tensor& a, const at::Tensor& ref) {
    return (a.to(at::kDouble) - ref.to(at::kDouble)).norm().item<double>() / ref.to(at::kDouble).norm().item<double>();
}

TEST_P(QuantizeDemo, QuantizedModelsLoadAndStayClose) {
    const std::string format = GetParam();
    // Measured (demo model, random weights, bf16 path, AVX2 CPU): DiT int8 1.3-1.5 %, fp8
    // 4.8-5.4 %; T5Gemma int8 1.8 %, fp8 6.0 %. The bounds leave room for other CPUs' GEMM
    // orders, not for a wrong scale or channel axis (which moves the output by O(1)).
    const double bound = format == "int8" ? 0.03 : 0.10;
    for (const char* role : {"dit/distill", "dit/sr_1080p"}) {
        const auto ref = run_demo_dit(demo_model() + "/" + role, 7);
        const auto got = run_demo_dit(quantized_demo(format) + "/" + role, 7);
        const double v = rel_l2(got.video, ref.video), a = rel_l2(got.audio, ref.audio);
        std::cout << "  [quant] " << format << " " << role << ": rel L2 video " << v << ", audio " << a << "\n";
        EXPECT_LT(v, bound) << role;
        EXPECT_LT(a, bound) << role;
        EXPECT_GT(v, 0) << role << ": identical output, the quantized weights were not used";
    }
    t5gemma::T5GemmaOptions to;
    const auto ref = t5gemma::T5GemmaEncoder::load(demo_model() + "/text_encoder", to);
    const auto got = t5gemma::T5GemmaEncoder::load(quantized_demo(format) + "/text_encoder", to);
    ASSERT_NE(got.block_store(), nullptr);  // the matrices stay quantized in memory
    const at::Tensor ids = at::arange(3, 19, at::kLong).unsqueeze(0);
    const at::Tensor mask = at::ones({1, 16}, at::kLong);
    const double e = rel_l2(got.forward(ids, mask), ref.forward(ids, mask));
    std::cout << "  [quant] " << format << " text_encoder: rel L2 " << e << "\n";
    EXPECT_LT(e, bound);
    EXPECT_GT(e, 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, QuantizeDemo, ::testing::Values("int8", "fp8"));

// A single DiT folder (config.json + model.safetensors, bf16): the golden DiT, run on its own
// golden input. Measured relative L2 of the output vs the bf16 model: int8 1.7 %, fp8 5.6 %.
TEST(Quantize, GoldenDitFolderStaysClose) {
    const std::string golden = testing::golden("dit");
    conform::CaseFile c(testing::golden("dit/case_t2v.safetensors"));
    dit::DitConfig config = dit::DitConfig::from_model_dir(golden);
    config.apply(c.meta("arch_overrides", nlohmann::json::object()));
    const auto packed = pipeline::pack(c.input("input.x_t"), c.input("input.audio_latent"), c.input("input.txt_feat"),
                                       c.input("input.txt_feat_len").item<int64_t>(),
                                       pipeline::DataProxyConfig::from_json(c.meta("data_proxy_config")));
    dit::DitOptions options;
    const auto ref = dit::DitModel::load(golden, config, options).forward(packed.seq);
    for (const std::string format : {"int8", "fp8"}) {
        const std::string out = testing::temp_dir("quant-golden") + "/dit";
        const auto report = quantize_model({golden, out, format});
        ASSERT_EQ(report.components.size(), 1u);
        EXPECT_EQ(report.components[0].role, "dit");
        EXPECT_EQ(report.components[0].quantized, 4 * config.num_layers);
        EXPECT_TRUE(fs::exists(out + "/config.json"));
        const auto got = dit::DitModel::load(out, config, options).forward(packed.seq);
        const double v = rel_l2(got.video, ref.video);
        std::cout << "  [quant] golden dit " << format << ": rel L2 video " << v << ", audio "
                  << rel_l2(got.audio, ref.audio) << "\n";
        EXPECT_LT(v, format == "int8" ? 0.03 : 0.10);
    }
}

TEST(Quantize, RefusesWithClearErrors) {
    const std::string base = testing::temp_dir("quant-err");
    auto err = [](const QuantizeRequest& r, const pipeline::QuantizeHooks& hooks = {}) {
        return testing::error_of([&] { pipeline::quantize_model_folder(r, nullptr, hooks); });
    };
    // OUT_DIR exists and is not empty.
    fs::create_directories(base + "/full");
    std::ofstream(base + "/full/keep.txt") << "x";
    std::string e = err({demo_model(), base + "/full", "int8"});
    EXPECT_NE(e.find(base + "/full"), std::string::npos) << e;
    EXPECT_NE(e.find("not empty"), std::string::npos) << e;
    EXPECT_EQ(read_file(base + "/full/keep.txt"), "x");
    // IN_DIR missing, or not a model.
    e = err({base + "/nope", base + "/o1", "int8"});
    EXPECT_NE(e.find(base + "/nope"), std::string::npos) << e;
    fs::create_directories(base + "/empty");
    e = err({base + "/empty", base + "/o1", "int8"});
    EXPECT_NE(e.find("is not a model folder"), std::string::npos) << e;
    EXPECT_NE(e.find(base + "/empty"), std::string::npos) << e;
    // Already quantized: the tensor is named.
    e = err({quantized_demo("int8"), base + "/o2", "fp8"});
    EXPECT_NE(e.find("already quantized"), std::string::npos) << e;
    EXPECT_NE(e.find(".weight_scale'"), std::string::npos) << e;
    // Unknown format.
    e = err({demo_model(), base + "/o3", "int4"});
    EXPECT_NE(e.find("'int4'"), std::string::npos) << e;
    EXPECT_NE(e.find("--format"), std::string::npos) << e;
    // Out inside in.
    e = err({demo_model(), demo_model() + "/quantized", "int8"});
    EXPECT_NE(e.find("inside the input model folder"), std::string::npos) << e;
    // Too little disk: checked before anything is written.
    pipeline::QuantizeHooks tiny;
    tiny.free_bytes = [](const std::string&) -> uint64_t { return 100000; };
    e = err({demo_model(), base + "/o4", "int8"}, tiny);
    EXPECT_NE(e.find("not enough free disk space"), std::string::npos) << e;
    EXPECT_NE(e.find(base + "/o4"), std::string::npos) << e;
    for (const auto& entry : fs::directory_iterator(base))
        EXPECT_EQ(entry.path().filename().string().find(".o"), std::string::npos)
            << "left behind: " << entry.path();
    EXPECT_FALSE(fs::exists(base + "/o4"));
    // A DiT folder whose block matrix has the wrong shape: named, nothing written.
    const std::string bad = base + "/bad-dit";
    fs::create_directories(bad);
    fs::copy_file(demo_model() + "/dit/distill/config.json", bad + "/config.json");
    {
        const auto ck = io::Checkpoint::open(demo_model() + "/dit/distill");
        std::map<std::string, at::Tensor> t;
        for (const auto& n : ck.names()) t[n] = ck.tensor(n);
        t["block.layers.1.mlp.down_proj.weight"] = at::zeros({64, 7});
        io::write_safetensors(bad + "/model.safetensors", t);
    }
    e = err({bad, base + "/o5", "int8"});
    EXPECT_NE(e.find("block.layers.1.mlp.down_proj.weight"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(base + "/o5"));
}

// An empty existing OUT_DIR is fine (e.g. a mount point made for it).
TEST(Quantize, EmptyOutFolderIsUsed) {
    const std::string out = testing::temp_dir("quant-empty-out");
    const auto report = quantize_model({demo_model() + "/dit/distill", out, "fp8"});
    EXPECT_EQ(report.components.at(0).quantized, 16);
    EXPECT_EQ(models::describe_quantization(io::Checkpoint::open(out)).summary(),
              "fp8 e4m3 per-channel (16 block matrices), fp32 otherwise");
}

// The loader (CheckpointBinder) on hand-made quantized files: a scale missing or of the wrong
// shape is an error naming the tensor.
TEST(Quantize, LoaderNamesAMissingOrWrongScale) {
    const std::string src = quantized_demo("int8") + "/dit/distill";
    const std::string key = "block.layers.2.attention.linear_proj.weight";
    const auto ck = io::Checkpoint::open(src);
    for (const bool drop : {true, false}) {
        const std::string dir = testing::temp_dir("quant-loader");
        fs::copy_file(src + "/config.json", dir + "/config.json");
        std::map<std::string, at::Tensor> t;
        for (const auto& n : ck.names()) t[n] = ck.tensor(n);
        if (drop) t.erase(key + "_scale");
        else t[key + "_scale"] = at::ones({3});
        io::write_safetensors(dir + "/model.safetensors", t);
        const std::string e = testing::error_of(
            [&] { dit::DitModel::load(dir, dit::DitConfig::from_model_dir(dir), dit::DitOptions{}); });
        EXPECT_NE(e.find(drop ? "'" + key + "'" : "'" + key + "_scale'"), std::string::npos) << e;
        EXPECT_NE(e.find(drop ? "has no scale tensor" : "expected F32 [64]"), std::string::npos) << e;
    }
}

}  // namespace
}  // namespace canter
