#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::error_of;

namespace fs = std::filesystem;

std::string write_index(const std::string& dir, const std::string& weight_map_json) {
    std::string p = dir + "/model.safetensors.index.json";
    std::ofstream(p) << R"({"metadata":{"total_size":0},"weight_map":)" << weight_map_json << "}";
    return p;
}


TEST(Checkpoint, SingleFileAndFolder) {
    const std::string dir = testing::temp_dir("ck");
    io::write_safetensors(dir + "/model.safetensors", {{"a", at::ones({2})}, {"b", at::zeros({3})}});
    for (const auto& path : {dir, dir + "/model.safetensors"}) {
        auto ck = io::Checkpoint::open(path);
        EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
        EXPECT_TRUE(at::equal(ck.tensor("b"), at::zeros({3})));
        EXPECT_EQ(ck.info("a").shape, (std::vector<int64_t>{2}));
    }
}

TEST(Checkpoint, ShardedIndexIsPreferredAndTakesOnlyListedNames) {
    const std::string dir = testing::temp_dir("ck");
    io::write_safetensors(dir + "/model-00001-of-00002.safetensors", {{"a", at::ones({2})}, {"stray", at::ones({1})}});
    io::write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"b", at::full({2}, 7.0)}});
    io::write_safetensors(dir + "/model.safetensors", {{"ignored", at::ones({1})}});
    write_index(dir, R"({"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"})");
    auto ck = io::Checkpoint::open(dir);
    EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(at::equal(ck.tensor("b"), at::full({2}, 7.0)));
    EXPECT_NE(ck.file_of("b").find("00002"), std::string::npos);
    auto via_index = io::Checkpoint::open(dir + "/model.safetensors.index.json");
    EXPECT_EQ(via_index.size(), 2u);
}

TEST(Checkpoint, ShardErrorsNameTheProblem) {
    const std::string dir = testing::temp_dir("ck");
    io::write_safetensors(dir + "/s1.safetensors", {{"a", at::ones({2})}});
    write_index(dir, R"({"a":"s1.safetensors","b":"s1.safetensors"})");
    std::string msg = error_of([&] { io::Checkpoint::open(dir); });
    EXPECT_NE(msg.find("'b'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("s1.safetensors"), std::string::npos) << msg;

    write_index(dir, R"({"a":"missing-shard.safetensors"})");
    msg = error_of([&] { io::Checkpoint::open(dir); });
    EXPECT_NE(msg.find("missing-shard.safetensors"), std::string::npos) << msg;

    write_index(dir, R"({"a":"../../etc/passwd"})");
    msg = error_of([&] { io::Checkpoint::open(dir); });
    EXPECT_NE(msg.find("outside the checkpoint folder"), std::string::npos) << msg;

    std::ofstream(dir + "/model.safetensors.index.json") << "{\"weight_map\": 3}";
    msg = error_of([&] { io::Checkpoint::open(dir); });
    EXPECT_NE(msg.find("weight_map"), std::string::npos) << msg;

    const std::string empty = testing::temp_dir("ck-empty");
    msg = error_of([&] { io::Checkpoint::open(empty); });
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

}  // namespace
}  // namespace canter
