// Corrupted files must produce canter::Error, never a crash, hang or another exception type.
#include <ATen/ATen.h>

#include <fstream>
#include <iterator>
#include <random>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/dit/dit_model.h"
#include "test_util.h"

namespace canter {
namespace {

std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

// Opens the file and touches every tensor; returns whether it was accepted.
bool open_and_read(const std::string& path) {
    try {
        auto f = io::SafetensorsFile::open(path);
        for (const auto& info : f->tensors()) {
            at::Tensor t = f->tensor(info);
            if (t.numel() > 0 && at::isFloatingType(t.scalar_type())) (void)t.to(at::kDouble).sum().item<double>();
        }
        return true;
    } catch (const Error&) {
        return false;
    }
}

TEST(LoaderFuzz, TruncationsAndByteFlipsNeverCrash) {
    const std::string dir = testing::temp_dir("fuzz");
    const std::string good = dir + "/good.safetensors";
    io::write_safetensors(good,
                          {{"w.weight", at::randn({16, 8})}, {"w.bias", at::randn({16}).to(at::kBFloat16)},
                           {"ids", at::arange(10, at::kLong)}, {"mask", at::ones({3}, at::kByte)}},
                          {{"config", "{\"a\": 1}"}});
    const std::string bytes = read_file(good);
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    std::mt19937 rng(1234);
    const std::string bad = dir + "/bad.safetensors";
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 400; ++iter) {
        std::string mutated = bytes;
        if (iter % 3 == 0) {
            mutated.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
        } else {
            // Flip bytes, mostly in the length field and the JSON header where parsing happens.
            const int flips = 1 + iter % 4;
            for (int f = 0; f < flips; ++f) {
                const size_t limit = (iter % 5 == 0) ? bytes.size() : 8 + header_len;
                size_t pos = std::uniform_int_distribution<size_t>(0, limit - 1)(rng);
                mutated[pos] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
            }
        }
        write_file(bad, mutated);
        (open_and_read(bad) ? accepted : rejected)++;
    }
    EXPECT_GT(rejected, 100);  // the loop really produced broken files
    std::cout << "  fuzz: " << accepted << " accepted, " << rejected << " rejected with canter::Error\n";
}

TEST(LoaderFuzz, TruncatedDitCheckpointIsAClearError) {
    const std::string dir = testing::temp_dir("fuzz-dit");
    const std::string bytes = read_file(testing::golden("dit/model.safetensors"));
    std::filesystem::copy_file(testing::golden("dit/config.json"), dir + "/config.json");
    write_file(dir + "/model.safetensors", bytes.substr(0, bytes.size() - 1000));
    const auto config = dit::DitConfig::from_model_dir(dir);
    try {
        dit::DitModel::load(dir, config, {});
        FAIL() << "a truncated checkpoint loaded";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
        EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
    }
}

}  // namespace
}  // namespace canter
