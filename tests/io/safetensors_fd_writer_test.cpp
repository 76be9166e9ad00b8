// SafetensorsWriter into a caller's fd (random: models' memory files) and in row parts.
#include <ATen/ATen.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/safetensors.h"
#include "test_util.h"

namespace canter {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SafetensorsWriter, PartsAndFdGiveTheSameBytesAsAWholeFile) {
    const std::string dir = testing::temp_dir("st-fd");
    const at::Tensor a = at::arange(24, at::kFloat).view({6, 4});
    const at::Tensor b = at::arange(5, at::kFloat).to(at::kBFloat16);
    const std::vector<io::SafetensorsWriter::Entry> entries = {{"a", io::DType::kF32, {6, 4}},
                                                               {"b", io::DType::kBF16, {5}}};
    io::write_safetensors(dir + "/whole.safetensors", {{"a", a}, {"b", b}});

    const int fd = ::memfd_create("st-fd-test", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    {
        io::SafetensorsWriter w(fd, "memory:test", entries);
        w.write_part("a", a.slice(0, 0, 4));  // rows 0-3, then 4-5
        w.write_part("a", a.slice(0, 4, 6));
        w.write("b", b);
        w.finish();
    }
    const std::string link = dir + "/mem.safetensors";
    ASSERT_EQ(::symlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link.c_str()), 0);
    EXPECT_EQ(slurp(link), slurp(dir + "/whole.safetensors"));
    EXPECT_EQ(io::SafetensorsWriter::file_size(entries), slurp(link).size());
    const auto st = io::SafetensorsFile::open(link);  // mmap through the symlink
    EXPECT_TRUE(at::equal(st->tensor("a"), a));

    // Parts must be whole rows of the next entry, and never more than the header says.
    io::SafetensorsWriter bad(dir + "/bad.safetensors", entries);
    std::string e = testing::error_of([&] { bad.write_part("a", at::zeros({2, 3})); });
    EXPECT_NE(e.find("header says F32 [6, 4]"), std::string::npos) << e;
    bad.write_part("a", a.slice(0, 0, 5));
    e = testing::error_of([&] { bad.write_part("a", a.slice(0, 0, 2)); });
    EXPECT_NE(e.find("gets 112 bytes, its header says 96"), std::string::npos) << e;
    e = testing::error_of([&] { bad.write("b", b); });
    EXPECT_NE(e.find("'b' written whole after a part of 'a'"), std::string::npos) << e;
    ::close(fd);
}

}  // namespace
}  // namespace canter
