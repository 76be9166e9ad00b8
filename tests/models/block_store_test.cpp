// Storage policies for block matrices (models/common/block_store.h): every way of holding the
// layers — plain slots, kept bf16 and widened per use, quantized, streamed from the file — must
// compute exactly what the plain path computes on the same values, and streaming must keep
// the weights out of the resident set.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "io/safetensors.h"
#include "models/common/quantize.h"
#include "models/common/weights.h"
#include "models/dit/dit_model.h"
#include "models/t5gemma/t5gemma_model.h"
#include "pipeline/packing.h"
#include "test_util.h"

namespace canter {
namespace {

nlohmann::json small_arch(int hidden = 128, int layers = 3) {
    return {{"num_layers", layers}, {"hidden_size", hidden}, {"head_dim", 32}, {"num_query_groups", 2},
            {"mm_layers", {0}}, {"gelu7_layers", {1}}, {"video_in_channels", 192}, {"audio_in_channels", 64},
            {"text_in_channels", 40}};
}

pipeline::PackedInput input(uint64_t seed) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    return pipeline::pack(at::randn({1, 48, 3, 6, 4}, g), at::randn({1, 9, 64}, g), at::randn({1, 8, 40}, g), 8, {});
}

// Writes a DiT folder: random weights, block matrices in `block_dtype` (or quantized), the rest fp32.
std::string write_dit(const nlohmann::json& arch, at::ScalarType block_dtype,
                      models::WeightFormat format = models::WeightFormat::kAsStored) {
    const auto config = dit::DitConfig::from_json(arch);
    dit::DitOptions o;
    o.precision = dit::Precision::kFP32;
    auto weights = dit::DitModel::random(config, o, 11).weights();
    struct Collect : models::WeightVisitor {
        std::map<std::string, at::Tensor> tensors;
        at::ScalarType dtype;
        models::WeightFormat format;
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape, at::ScalarType,
                   bool) override {
            if (!slot.defined()) return;
            if (block() >= 0 && shape.size() == 2) {
                if (format != models::WeightFormat::kAsStored) {
                    auto q = models::quantize_rows(slot, format);
                    tensors[key] = q.values;
                    tensors[models::scale_key(key)] = q.scale;
                    return;
                }
                tensors[key] = slot.to(dtype);
                return;
            }
            tensors[key] = slot;
        }
    } collect;
    collect.dtype = block_dtype;
    collect.format = format;
    weights.visit(collect, config, at::kFloat);
    const std::string dir = testing::temp_dir("dit-store");
    std::ofstream(dir + "/config.json") << nlohmann::json{{"arch_config", arch}}.dump();
    io::write_safetensors(dir + "/model.safetensors", collect.tensors);
    return dir;
}

dit::DitModel load(const std::string& dir, dit::Precision p, bool stream) {
    dit::DitOptions o;
    o.precision = p;
    o.stream_blocks = stream;
    return dit::DitModel::load(dir, dit::DitConfig::from_model_dir(dir), o);
}

void expect_identical(const dit::DitOutput& a, const dit::DitOutput& b, const std::string& what) {
    EXPECT_TRUE(at::equal(a.video, b.video)) << what << ": video " << testing::compare(a.video, b.video).describe();
    EXPECT_TRUE(at::equal(a.audio, b.audio)) << what << ": audio " << testing::compare(a.audio, b.audio).describe();
}

TEST(BlockStore, StreamedLayersComputeExactlyWhatResidentOnesDo) {
    const auto arch = small_arch();
    const auto config = dit::DitConfig::from_json(arch);
    const std::string dir = write_dit(arch, at::kBFloat16);
    const auto seq = input(1).seq;
    for (auto p : {dit::Precision::kFP32, dit::Precision::kBF16}) {
        const auto resident = load(dir, p, false);
        const auto streamed = load(dir, p, true);
        ASSERT_NE(streamed.block_store(), nullptr);
        const auto a = resident.forward(seq);
        const auto b = streamed.forward(seq);
        const auto c = streamed.forward(seq);  // the second pass reads every layer again
        expect_identical(a, b, dit::precision_name(p));
        expect_identical(a, c, dit::precision_name(p));
        // Every layer was read once per pass (plus layer 0 read ahead for a next pass).
        const auto stats = streamed.block_store()->stats();
        EXPECT_GE(stats.blocks_read, 2 * config.num_layers);
        EXPECT_LE(stats.blocks_read, 2 * config.num_layers + 1);
        EXPECT_GT(stats.bytes_read, 0u);
        EXPECT_GE(stats.wait_s, 0.0);
    }
}

TEST(BlockStore, Bf16KeptAndWidenedPerLayerEqualsAWidenedModel) {
    // A bf16 file computed in fp32 keeps bf16 in memory and widens one layer at a time; the
    // result must equal a model whose file already holds the same values in fp32.
    const auto arch = small_arch();
    const std::string bf16_dir = write_dit(arch, at::kBFloat16);
    const std::string fp32_dir = write_dit(arch, at::kFloat);
    // write_dit stores the same random values; the fp32 file holds them un-rounded, so round.
    {
        auto f = io::SafetensorsFile::open(bf16_dir + "/model.safetensors");
        std::map<std::string, at::Tensor> widened;
        for (const auto& info : f->tensors()) widened[info.name] = f->tensor(info).to(at::kFloat);
        io::write_safetensors(fp32_dir + "/model.safetensors", widened);
    }
    const auto kept = load(bf16_dir, dit::Precision::kFP32, false);
    const auto plain = load(fp32_dir, dit::Precision::kFP32, false);
    ASSERT_NE(kept.block_store(), nullptr) << "bf16 blocks for an fp32 compute must be held by the store";
    EXPECT_EQ(plain.block_store(), nullptr) << "fp32 blocks for an fp32 compute are plain slots";
    EXPECT_FALSE(kept.weights().layers[0].linear_qkv.defined()) << "no whole-model fp32 copy";
    const auto seq = input(2).seq;
    expect_identical(kept.forward(seq), plain.forward(seq), "bf16 kept vs fp32 file");
}

TEST(BlockStore, QuantizedResidentAndStreamedAgreeAndStayCloseToBf16) {
    const auto arch = small_arch();
    const auto seq = input(3).seq;
    const auto ref = load(write_dit(arch, at::kBFloat16), dit::Precision::kBF16, false).forward(seq);
    for (auto format : {models::WeightFormat::kInt8, models::WeightFormat::kFp8}) {
        const std::string dir = write_dit(arch, at::kBFloat16, format);
        const auto resident = load(dir, dit::Precision::kBF16, false);
        ASSERT_NE(resident.block_store(), nullptr);
        const auto a = resident.forward(seq);
        expect_identical(a, load(dir, dit::Precision::kBF16, true).forward(seq), models::weight_format_name(format));
        // Relative L2 against the bf16 weights: int8 ~1 %, fp8 a few % (3 mantissa bits).
        const double bound = format == models::WeightFormat::kInt8 ? 0.03 : 0.10;
        for (auto [name, x, y] : {std::tuple{"video", a.video, ref.video}, std::tuple{"audio", a.audio, ref.audio}}) {
            const double rel = (x - y).norm().item<double>() / y.norm().item<double>();
            std::cout << "  " << models::weight_format_name(format) << " " << name << ": relative L2 " << rel << "\n";
            EXPECT_LT(rel, bound) << name;
        }
    }
}

TEST(BlockStore, QuantizedTensorsNeedTheirScale) {
    const std::string dir = write_dit(small_arch(128, 2), at::kBFloat16, models::WeightFormat::kInt8);
    auto f = io::SafetensorsFile::open(dir + "/model.safetensors");
    std::map<std::string, at::Tensor> t;
    for (const auto& info : f->tensors()) t[info.name] = f->tensor(info).clone();
    f.reset();
    const std::string qkv = "block.layers.1.attention.linear_qkv.weight";
    const std::string down = "block.layers.0.mlp.down_proj.weight";
    t.erase(qkv + "_scale");
    t[down + "_scale"] = at::ones({3}, at::kFloat);
    io::write_safetensors(dir + "/model.safetensors", t);
    const std::string msg = testing::error_of([&] { load(dir, dit::Precision::kBF16, false); });
    EXPECT_NE(msg.find("quantized tensor '" + qkv + "' (I8)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has no scale tensor '" + qkv + "_scale'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("scale tensor '" + down + "_scale'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is F32 [3], expected F32 ["), std::string::npos) << msg;
}

TEST(BlockStore, QuantizedScalesAreBf16SoBf16DequantizeLosesNothingMore) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
    const at::Tensor w = at::randn({64, 96}, g) * at::rand({64, 1}, g);
    for (auto format : {models::WeightFormat::kInt8, models::WeightFormat::kFp8}) {
        const auto q = models::quantize_rows(w, format);
        EXPECT_TRUE(at::equal(q.scale, q.scale.to(at::kBFloat16).to(at::kFloat)));
        // Dequantized in bf16 = the exact product rounded once (the scale adds no rounding).
        const at::Tensor exact = (q.values.to(at::kFloat) * q.scale.unsqueeze(1)).to(at::kBFloat16);
        EXPECT_TRUE(at::equal(models::dequantize(q.values, q.scale, at::kBFloat16), exact));
        // Within half a quantization step of the original (int8), per row.
        if (format == models::WeightFormat::kInt8)
            EXPECT_TRUE(((models::dequantize(q.values, q.scale, at::kFloat) - w).abs() <= q.scale.unsqueeze(1) * 0.5001)
                            .all()
                            .item<bool>());
    }
}

int64_t resident_kib() {
    std::ifstream in("/proc/self/statm");
    int64_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

TEST(BlockStore, StreamedWeightsStayOutOfTheResidentSet) {
    // ~190 MB of bf16 layers: a resident pass faults them all in (file-backed RSS); a streamed
    // pass reads them with pread into a two-layer ring and the RSS grows by about the ring.
    auto arch = small_arch(1024, 8);
    arch["mm_layers"] = nlohmann::json::array();  // equal layers: the ring is 2/8 of the file
    const std::string dir = write_dit(arch, at::kBFloat16);
    const auto seq = input(4).seq;
    const int64_t file_kib = static_cast<int64_t>(std::filesystem::file_size(dir + "/model.safetensors") / 1024);
    int64_t resident_growth = 0, streamed_growth = 0;
    // Streamed first: its ring and activations must not land in memory the allocator kept.
    {
        const auto m = load(dir, dit::Precision::kBF16, true);
        const int64_t before = resident_kib();
        m.forward(seq);
        streamed_growth = resident_kib() - before;
    }
    {
        const auto m = load(dir, dit::Precision::kBF16, false);
        const int64_t before = resident_kib();
        m.forward(seq);
        resident_growth = resident_kib() - before;
    }
    std::cout << "  file " << file_kib / 1024 << " MiB; RSS growth resident " << resident_growth / 1024
              << " MiB, streamed " << streamed_growth / 1024 << " MiB\n";
    EXPECT_GT(resident_growth, file_kib * 7 / 10);
    EXPECT_LT(streamed_growth, file_kib * 45 / 100);  // a ring of 2 of the 8 layers + activations
}

TEST(BlockStore, StreamedTextEncoderEqualsResident) {
    const nlohmann::json encoder = {{"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 3},
                                    {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 32},
                                    {"query_pre_attn_scalar", 32}, {"sliding_window", 4}, {"rope_theta", 10000.0},
                                    {"rms_norm_eps", 1e-6}, {"attn_logit_softcapping", 50.0},
                                    {"hidden_activation", "gelu_pytorch_tanh"}, {"vocab_size", 64},
                                    {"pad_token_id", 0}, {"eos_token_id", 1}, {"bos_token_id", 2}};
    const auto config = t5gemma::T5GemmaConfig::from_json({{"architectures", {"T5GemmaForConditionalGeneration"}},
                                                           {"model_type", "t5gemma"}, {"encoder", encoder},
                                                           {"decoder", encoder}, {"pad_token_id", 0},
                                                           {"eos_token_id", 1}, {"bos_token_id", 2}});
    const std::string dir = testing::temp_dir("t5-store");
    t5gemma::T5GemmaEncoder::random(config, {}, 5).save(dir);  // bf16 file
    const at::Tensor ids = at::arange(10, at::kLong).view({1, 10});
    const at::Tensor mask = at::ones({1, 10}, at::kLong);
    for (auto p : {dit::Precision::kFP32, dit::Precision::kBF16}) {
        t5gemma::T5GemmaOptions o;
        o.precision = p;
        const auto resident = t5gemma::T5GemmaEncoder::load(dir, o);
        o.stream_blocks = true;
        const auto streamed = t5gemma::T5GemmaEncoder::load(dir, o);
        ASSERT_NE(streamed.block_store(), nullptr);
        EXPECT_TRUE(at::equal(resident.forward(ids, mask), streamed.forward(ids, mask))) << dit::precision_name(p);
        EXPECT_EQ(streamed.block_store()->stats().blocks_read, 3);  // one pass, no read-ahead past the end
    }
}

}  // namespace
}  // namespace canter
