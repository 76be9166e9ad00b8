// Strict DiT loading: every problem with a checkpoint is an error that lists all of them.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/dit/dit_model.h"
#include "test_util.h"

namespace canter {
namespace {

using TensorMap = std::map<std::string, at::Tensor>;

TensorMap golden_dit_tensors() {
    auto f = io::SafetensorsFile::open(testing::golden("dit/model.safetensors"));
    TensorMap out;
    for (const auto& info : f->tensors()) out[info.name] = f->tensor(info).clone();
    return out;
}

std::string make_model_dir(const TensorMap& tensors) {
    const std::string dir = testing::temp_dir("dit-model");
    std::filesystem::copy_file(testing::golden("dit/config.json"), dir + "/config.json");
    io::write_safetensors(dir + "/model.safetensors", tensors);
    return dir;
}

std::string load_error(const std::string& dir) {
    try {
        dit::DitModel::load(dir, dit::DitConfig::from_model_dir(dir), {});
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(DitWeights, GoldenCheckpointLoadsStrictly) {
    const auto model = dit::DitModel::load(testing::golden("dit"), dit::DitConfig::from_model_dir(testing::golden("dit")), {});
    EXPECT_EQ(model.weights().layers.size(), 6u);
}

TEST(DitWeights, EveryProblemIsListed) {
    TensorMap t = golden_dit_tensors();
    t.erase("block.layers.3.mlp.down_proj.weight");
    t.erase("final_norm_audio.weight");
    t["block.layers.0.attention.q_norm.weight"] = at::zeros({7});
    t["block.layers.0.attention.extra.weight"] = at::zeros({2});
    const std::string msg = load_error(make_model_dir(t));
    EXPECT_NE(msg.find("4 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing tensor 'block.layers.3.mlp.down_proj.weight' (expected shape [128, 340])"),
              std::string::npos) << msg;
    EXPECT_NE(msg.find("missing tensor 'final_norm_audio.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'block.layers.0.attention.q_norm.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has shape [7], expected [96]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected tensor 'block.layers.0.attention.extra.weight'"), std::string::npos) << msg;
}

TEST(DitWeights, WrongConfigIsAShapeErrorNotGarbage) {
    // Same weights, but the config claims swiglu7 everywhere: the MLP shapes of layers 0, 1 differ.
    TensorMap t = golden_dit_tensors();
    const std::string dir = make_model_dir(t);
    auto config = dit::DitConfig::from_model_dir(dir);
    config.gelu7_layers = {};
    try {
        dit::DitModel::load(dir, config, {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("block.layers.0.mlp.up_gate_proj.weight"), std::string::npos) << e.what();
    }
}

TEST(DitWeights, RopeBandsMayBeAbsentAndOtherDtypesConvert) {
    TensorMap t = golden_dit_tensors();
    t.erase("adapter.rope.bands");
    // A checkpoint stored entirely in bf16 (as third-party conversions are) still loads.
    for (auto& [name, v] : t) v = v.to(at::kBFloat16);
    const std::string dir = make_model_dir(t);
    const auto model = dit::DitModel::load(dir, dit::DitConfig::from_model_dir(dir), {});
    EXPECT_TRUE(at::allclose(model.weights().rope_bands, at::tensor({1.0f, 0.1f, 0.01f, 0.001f})));
    EXPECT_EQ(model.weights().final_norm_video.scalar_type(), at::kFloat);
}

TEST(DitWeights, NonFloatingTensorIsRejected) {
    TensorMap t = golden_dit_tensors();
    t["final_norm_video.weight"] = at::zeros({128}, at::kLong);
    const std::string msg = load_error(make_model_dir(t));
    EXPECT_NE(msg.find("'final_norm_video.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("floating-point"), std::string::npos) << msg;
}

TEST(DitWeights, ShardedCheckpointLoads) {
    TensorMap t = golden_dit_tensors();
    const std::string dir = testing::temp_dir("dit-sharded");
    std::filesystem::copy_file(testing::golden("dit/config.json"), dir + "/config.json");
    TensorMap a, b;
    nlohmann::json map;
    int i = 0;
    for (const auto& [name, v] : t) {
        const bool first = (i++ % 2) == 0;
        (first ? a : b)[name] = v;
        map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    io::write_safetensors(dir + "/model-00001-of-00002.safetensors", a);
    io::write_safetensors(dir + "/model-00002-of-00002.safetensors", b);
    std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"weight_map", map}}.dump();
    const auto config = dit::DitConfig::from_model_dir(dir);
    const auto sharded = dit::DitModel::load(dir, config, {});
    const auto single = dit::DitModel::load(testing::golden("dit"), config, {});
    EXPECT_TRUE(at::equal(sharded.weights().layers[4].linear_qkv, single.weights().layers[4].linear_qkv));
}

}  // namespace
}  // namespace canter
