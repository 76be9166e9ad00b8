// Stable Audio Open VAE (Oobleck): golden decode/encode, weight-norm folding, bottleneck,
// lengths and the errors for bad inputs / mismatched weights.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "conform/conform_internal.h"
#include "io/safetensors.h"
#include "models/audio_vae/audio_vae.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::error_of;

using audio_vae::AudioVae;
using audio_vae::AudioVaeConfig;
using testing::golden;
using testing::near;

const std::string kDir = "vae/sa_audio";

const AudioVae& golden_model() {
    static const AudioVae model = AudioVae::load(golden(kDir));
    return model;
}


// Contract: VAEs at fp32 within 1e-4 max abs relative to the output scale.
double tol_for(const at::Tensor& ref) {
    return 1e-4 * std::max(1.0, ref.abs().max().item<double>());
}

nlohmann::json golden_config_json() {
    std::ifstream in(golden(kDir + "/model_config.json"));
    return nlohmann::json::parse(in);
}

TEST(AudioVaeConfig, ReadsGoldenLayout) {
    const auto c = AudioVaeConfig::from_model_dir(golden(kDir));
    EXPECT_EQ(c.encoder.channels, 4);
    EXPECT_EQ(c.encoder.widths(), (std::vector<int64_t>{4, 4, 8, 16, 32, 64}));
    EXPECT_EQ(c.decoder.strides, (std::vector<int>{2, 4, 4, 8, 8}));
    EXPECT_EQ(c.encoder.latent_dim, 128);
    EXPECT_EQ(c.decoder.latent_dim, 64);
    EXPECT_TRUE(c.encoder.use_snake && c.decoder.use_snake);
    EXPECT_FALSE(c.decoder.final_tanh);
    EXPECT_FALSE(c.soft_clip);
    EXPECT_EQ(c.sample_rate, 44100);
    EXPECT_EQ(c.latent_length(20480), 10);
    EXPECT_EQ(c.latent_length(2048 * 3 + 2047), 3);  // floor at every stride
    EXPECT_EQ(c.latent_length(2047), 0);
    EXPECT_EQ(c.waveform_length(10), 20480);
}

// The real SAO 1.0 layout (channels 128) must have the spec's parameter counts (g and v both
// count, as in upstream's parameters()).
TEST(AudioVaeConfig, RealLayoutParameterCounts) {
    nlohmann::json j = golden_config_json();
    auto& p = j["model"]["pretransform"]["config"];
    p["encoder"]["config"]["channels"] = 128;
    p["decoder"]["config"]["channels"] = 128;
    const auto c = AudioVaeConfig::from_json(j);
    audio_vae::AudioVaeWeights w;
    models::SpecCollector enc, dec;
    w.visit(enc, c, true, false);
    w.visit(dec, c, false, true);
    EXPECT_EQ(enc.parameter_count(), 77989888);
    EXPECT_EQ(dec.parameter_count(), 78122626);
    EXPECT_EQ(enc.specs().size() + dec.specs().size(), 365u);
}

TEST(AudioVaeConfig, RejectsInconsistentConfigs) {
    nlohmann::json j = golden_config_json();
    j["model"]["pretransform"]["config"]["encoder"]["config"]["latent_dim"] = 64;
    EXPECT_NE(error_of([&] { AudioVaeConfig::from_json(j); }).find("encoder.latent_dim"),
              std::string::npos);
    j = golden_config_json();
    j["model"]["pretransform"]["config"]["decoder"]["config"]["antialias_activation"] = true;
    EXPECT_NE(error_of([&] { AudioVaeConfig::from_json(j); }).find("antialias_activation"),
              std::string::npos);
    j = golden_config_json();
    j["model"]["pretransform"]["config"]["encoder"]["config"]["strides"] = {2, 4, 4, 8};
    EXPECT_NE(error_of([&] { AudioVaeConfig::from_json(j); }).find("strides"), std::string::npos);
}

TEST(AudioVaeGolden, DecodeAsMagiHumanPassesIt) {
    auto ref = io::SafetensorsFile::open(golden(kDir + "/case.safetensors"));
    const at::Tensor btc = ref->tensor("decode.input_latent_BTC");  // [1, 10, 64]
    const at::Tensor expected = ref->tensor("decode.output_waveform");
    const double tol = tol_for(expected);
    const at::Tensor unbatched = golden_model().decode(btc.squeeze(0).t());
    EXPECT_TRUE(near(unbatched, expected, tol, "decode.output_waveform (un-batched [64, T])"));
    const at::Tensor batched = golden_model().decode(btc.transpose(1, 2));
    EXPECT_TRUE(near(batched, expected, tol, "decode.output_waveform (batched [1, 64, T])"));
}

TEST(AudioVaeGolden, EncodePreBottleneck) {
    auto ref = io::SafetensorsFile::open(golden(kDir + "/case.safetensors"));
    const at::Tensor wave = ref->tensor("encode.input_waveform");  // [1, 2, 20480]
    const at::Tensor expected = ref->tensor("encode.pre_bottleneck_latents");
    const double tol = tol_for(expected);
    EXPECT_TRUE(near(golden_model().encode_pre_bottleneck(wave), expected, tol,
                     "encode.pre_bottleneck_latents"));
    EXPECT_TRUE(near(golden_model().encode_pre_bottleneck(wave.squeeze(0)), expected, tol,
                     "encode.pre_bottleneck_latents (un-batched [2, L])"));
}

TEST(AudioVaeGolden, ConformRunnerWritesReferenceNames) {
    ConformRequest req;
    req.kind = "audio-vae";
    req.model = golden(kDir);
    conform::CaseFile c(golden(kDir + "/case.safetensors"));
    const auto out = conform::run_audio_vae(req, c);
    auto ref = io::SafetensorsFile::open(golden(kDir + "/case.safetensors"));
    for (const char* name : {"decode.output_waveform", "encode.pre_bottleneck_latents"}) {
        const at::Tensor expected = ref->tensor(name);
        EXPECT_TRUE(near(out.at(name), expected, tol_for(expected), name));
    }
}

// w = g * v / ||v|| recomputed in double with plain loops; dim 0 is the output channel for
// Conv1d and the input channel for ConvTranspose1d, so the same loop covers both.
at::Tensor fold_reference(const at::Tensor& g, const at::Tensor& v) {
    const at::Tensor vd = v.to(at::kDouble).contiguous();
    const at::Tensor gd = g.to(at::kDouble).reshape({-1});
    at::Tensor w = at::empty_like(vd);
    const int64_t n0 = vd.size(0), rest = vd.numel() / n0;
    const double* pv = vd.data_ptr<double>();
    double* pw = w.data_ptr<double>();
    for (int64_t o = 0; o < n0; ++o) {
        double ss = 0;
        for (int64_t i = 0; i < rest; ++i) ss += pv[o * rest + i] * pv[o * rest + i];
        const double scale = gd[o].item<double>() / std::sqrt(ss);
        for (int64_t i = 0; i < rest; ++i) pw[o * rest + i] = pv[o * rest + i] * scale;
    }
    return w;
}

TEST(AudioVaeWeights, WeightNormFoldingMatchesIndependentComputation) {
    auto file = io::SafetensorsFile::open(golden(kDir + "/model.safetensors"));
    const auto& w = golden_model().weights();
    struct Item {
        std::string key;
        const at::Tensor* folded;
    };
    const std::string p = "pretransform.model.";
    const std::vector<Item> items = {
        {p + "encoder.layers.0.", &w.encoder.conv_in.weight},
        {p + "encoder.layers.3.layers.4.", &w.encoder.blocks[2].conv.weight},  // strided conv
        {p + "decoder.layers.1.layers.1.", &w.decoder.blocks[0].conv.weight},  // transposed
        {p + "decoder.layers.4.layers.1.", &w.decoder.blocks[3].conv.weight},  // transposed
        {p + "decoder.layers.1.layers.2.layers.1.",
         &w.decoder.blocks[0].units[0].conv1.weight},
        {p + "decoder.layers.7.", &w.decoder.conv_out.weight},
    };
    for (const auto& it : items) {
        const at::Tensor g = file->tensor(it.key + "weight_g");
        const at::Tensor v = file->tensor(it.key + "weight_v");
        ASSERT_TRUE(it.folded->defined()) << it.key;
        const double tol = 1e-6 * (1 + g.abs().max().item<double>());
        EXPECT_TRUE(near(it.folded->to(at::kDouble), fold_reference(g, v), tol, it.key + "weight"));
        // ||w[dim0 slice]|| = |g|.
        const at::Tensor norms = it.folded->to(at::kDouble).reshape({v.size(0), -1}).norm(2, 1);
        EXPECT_TRUE(near(norms, g.to(at::kDouble).reshape({-1}).abs(), 1e-5, it.key + " norms"));
    }
    // The transposed conv's g is per input channel: [in, 1, 1] with in = 64 for channels 4.
    EXPECT_EQ(file->tensor(p + "decoder.layers.1.layers.1.weight_g").sizes(),
              at::IntArrayRef({64, 1, 1}));
    EXPECT_EQ(w.decoder.blocks[0].conv.weight.sizes(), at::IntArrayRef({64, 32, 16}));
    EXPECT_FALSE(w.decoder.conv_out.bias.defined());
    EXPECT_FALSE(w.decoder.conv_out.weight_v.defined());  // released after folding
}

TEST(AudioVaeBottleneck, SampleIsMeanPlusStdTimesEps) {
    auto ref = io::SafetensorsFile::open(golden(kDir + "/case.safetensors"));
    const at::Tensor wave = ref->tensor("encode.input_waveform");
    at::Tensor eps = at::randn({1, 64, 10}, at::kFloat);
    const auto e = golden_model().encode(wave, eps);
    const at::Tensor pre = e.pre_bottleneck.to(at::kDouble);
    const at::Tensor mean = pre.narrow(1, 0, 64), scale = pre.narrow(1, 64, 64);
    const at::Tensor expected = mean + (at::log1p(at::exp(scale)) + 1e-4) * eps.to(at::kDouble);
    EXPECT_TRUE(near(e.latent.to(at::kDouble), expected, 1e-5, "bottleneck latent"));
    EXPECT_TRUE(near(e.mean, pre.narrow(1, 0, 64).to(at::kFloat), 0, "bottleneck mean"));

    const auto a = golden_model().encode(wave, uint64_t(7));
    const auto b = golden_model().encode(wave, uint64_t(7));
    const auto c = golden_model().encode(wave, uint64_t(8));
    EXPECT_TRUE(at::equal(a.latent, b.latent));
    EXPECT_FALSE(at::equal(a.latent, c.latent));
    EXPECT_EQ(a.latent.sizes(), at::IntArrayRef({1, 64, 10}));

    const std::string msg =
        error_of([&] { audio_vae::vae_bottleneck(e.pre_bottleneck, at::zeros({1, 64, 9})); });
    EXPECT_NE(msg.find("eps has shape [1, 64, 9], expected the mean's [1, 64, 10]"),
              std::string::npos) << msg;
}

TEST(AudioVaeLengths, DecodeAndEncodeLengths) {
    const at::Tensor z = at::randn({64, 3});
    EXPECT_EQ(golden_model().decode(z).sizes(), at::IntArrayRef({1, 2, 3 * 2048}));
    const at::Tensor wave = at::randn({2, 2, 2048 * 2 + 2047}) * 0.1;
    EXPECT_EQ(golden_model().encode_pre_bottleneck(wave).sizes(), at::IntArrayRef({2, 128, 2}));
}

TEST(AudioVaeErrors, BadInputsNameWhatIsWrong) {
    const AudioVae& m = golden_model();
    std::string msg = error_of([&] { m.encode_pre_bottleneck(at::zeros({1, 2, 0})); });
    EXPECT_NE(msg.find("waveform [1, 2, 0] is empty"), std::string::npos) << msg;
    msg = error_of([&] { m.encode_pre_bottleneck(at::zeros({1, 3, 4096})); });
    EXPECT_NE(msg.find("waveform [1, 3, 4096] has 3 channels, the encoder takes 2"),
              std::string::npos) << msg;
    msg = error_of([&] { m.encode_pre_bottleneck(at::zeros({2, 1000})); });
    EXPECT_NE(msg.find("1000 samples is too short"), std::string::npos) << msg;
    msg = error_of([&] { m.encode_pre_bottleneck(at::zeros({4096})); });
    EXPECT_NE(msg.find("waveform must be [channels, samples]"), std::string::npos) << msg;
    // MagiHuman's [1, T, 64] latent handed over without squeeze(0).T.
    msg = error_of([&] { m.decode(at::zeros({1, 10, 64})); });
    EXPECT_NE(msg.find("latent [1, 10, 64] has 10 channels"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the decoder takes 64"), std::string::npos) << msg;
    msg = error_of([&] { m.decode(at::zeros({32, 10})); });
    EXPECT_NE(msg.find("latent [32, 10] has 32 channels"), std::string::npos) << msg;
    msg = error_of([&] { m.decode(at::zeros({64, 4}, at::kLong)); });
    EXPECT_NE(msg.find("latent must be a floating-point tensor"), std::string::npos) << msg;
    // Reference audio at the file's rate instead of the model's 51.2 kHz time base.
    msg = error_of([&] { m.encode_at_rate(at::zeros({2, 8192}), 44100, 1); });
    EXPECT_NE(msg.find("sample rate is 44100 Hz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("51200 Hz"), std::string::npos) << msg;
    EXPECT_EQ(error_of([&] { m.encode_at_rate(at::zeros({2, 8192}), audio_vae::kModelSampleRate, 1); }), "");
    msg = error_of([&] { m.encode_at_rate(at::zeros({2, 0}), audio_vae::kModelSampleRate, 1); });
    EXPECT_NE(msg.find("is empty"), std::string::npos) << msg;
}

TEST(AudioVaeErrors, ConfigWeightsMismatchIsReported) {
    nlohmann::json j = golden_config_json();
    j["model"]["pretransform"]["config"]["encoder"]["config"]["channels"] = 8;
    const auto config = AudioVaeConfig::from_json(j);
    const std::string msg = error_of([&] { AudioVae::load(golden(kDir), config); });
    EXPECT_NE(msg.find("weights do not match the model config"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'pretransform.model.encoder.layers.0.weight_v'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("has shape [4, 2, 7], expected [8, 2, 7]"), std::string::npos) << msg;
}

// The real file also holds the DiT and conditioner: keys outside `pretransform.model.` are
// skipped, an unknown key inside it is an error, and a missing one is listed.
TEST(AudioVaeErrors, OnlyThePretransformPrefixIsStrict) {
    auto file = io::SafetensorsFile::open(golden(kDir + "/model.safetensors"));
    std::map<std::string, at::Tensor> t;
    for (const auto& info : file->tensors()) t[info.name] = file->tensor(info).clone();
    t["model.model.transformer.layers.0.weight"] = at::zeros({3});
    t["conditioner.conditioners.prompt.proj.weight"] = at::zeros({2});
    const std::string dir = testing::temp_dir("sa-audio");
    std::filesystem::copy_file(golden(kDir + "/model_config.json"), dir + "/model_config.json");
    io::write_safetensors(dir + "/model.safetensors", t);
    EXPECT_NO_THROW(AudioVae::load(dir));

    t.erase("pretransform.model.decoder.layers.6.alpha");
    t["pretransform.model.decoder.layers.9.weight"] = at::zeros({2});
    io::write_safetensors(dir + "/model.safetensors", t);
    const std::string msg = error_of([&] { AudioVae::load(dir); });
    EXPECT_NE(msg.find("2 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing tensor 'pretransform.model.decoder.layers.6.alpha'"),
              std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected tensor 'pretransform.model.decoder.layers.9.weight'"),
              std::string::npos) << msg;
    // Decoder-only loading skips the encoder half and still checks the decoder.
    audio_vae::AudioVaeOptions dec_only;
    dec_only.load_encoder = false;
    EXPECT_NE(error_of([&] { AudioVae::load(dir, dec_only); }).find("decoder.layers.6.alpha"),
              std::string::npos);
}

}  // namespace
}  // namespace canter
