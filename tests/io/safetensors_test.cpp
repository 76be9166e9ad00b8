#include <ATen/ATen.h>

#include <cstring>
#include <fstream>

#include "io/safetensors.h"
#include "test_util.h"

namespace canter {
namespace {

using io::SafetensorsFile;

// Writes `header` JSON + `data` bytes as a safetensors file.
std::string write_raw(const std::string& dir, const std::string& header, const std::string& data,
                      const std::string& name = "t.safetensors") {
    std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return path;
}

// Asserts that opening `path` throws canter::Error whose message contains every needle.
void expect_open_error(const std::string& path, std::vector<std::string> needles) {
    try {
        SafetensorsFile::open(path);
        FAIL() << "expected an error for " << path;
    } catch (const Error& e) {
        const std::string msg = e.what();
        needles.push_back(path);  // every message names the file
        for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    }
}

TEST(Safetensors, RoundTripAllDtypes) {
    const std::string dir = testing::temp_dir("st");
    std::map<std::string, at::Tensor> in = {
        {"f32", at::randn({3, 4})},
        {"f64", at::randn({2}, at::kDouble)},
        {"bf16", at::randn({5, 2}).to(at::kBFloat16)},
        {"f16", at::randn({7}).to(at::kHalf)},
        {"i64", at::arange(6, at::kLong).view({2, 3})},
        {"i32", at::arange(4, at::kInt)},
        {"i8", at::arange(-3, 3, at::kChar)},
        {"u8", at::arange(9, at::kByte)},
        {"bool", at::ones({3}, at::kBool)},
        {"empty", at::zeros({0, 3})},
        {"scalar", at::tensor(3.5f).view({})},
    };
    io::write_safetensors(dir + "/a.safetensors", in, {{"note", "hello"}});
    auto f = SafetensorsFile::open(dir + "/a.safetensors");
    EXPECT_EQ(f->metadata().at("note"), "hello");
    ASSERT_EQ(f->tensors().size(), in.size());
    for (const auto& [name, t] : in) {
        at::Tensor got = f->tensor(name);
        EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
        EXPECT_EQ(got.sizes(), t.sizes()) << name;
        EXPECT_TRUE(at::equal(got, t)) << name;
    }
    EXPECT_EQ(f->find("missing"), nullptr);
}

TEST(Safetensors, TensorsShareTheMappingAndWritesStayPrivate) {
    const std::string dir = testing::temp_dir("st");
    io::write_safetensors(dir + "/a.safetensors", {{"x", at::ones({64})}});
    auto f = SafetensorsFile::open(dir + "/a.safetensors");
    at::Tensor a = f->tensor("x"), b = f->tensor("x");
    EXPECT_EQ(a.data_ptr(), b.data_ptr());  // zero-copy: both views of the same pages
    a.mul_(2);                              // copy-on-write: the file is untouched
    auto again = SafetensorsFile::open(dir + "/a.safetensors");
    EXPECT_TRUE(at::equal(again->tensor("x"), at::ones({64})));
}

TEST(Safetensors, F8E4M3IsReadAsAtenFloat8) {
    const std::string dir = testing::temp_dir("st");
    // 0x38 = 1.0, 0x40 = 2.0, 0xB8 = -1.0, 0x01 = 2^-9 (subnormal), 0x7E = 448 (max)
    std::string data = "\x38\x40\xB8\x01\x7E";
    data.resize(5);
    std::string path = write_raw(dir, R"({"q":{"dtype":"F8_E4M3","shape":[5],"data_offsets":[0,5]}})", data);
    at::Tensor t = SafetensorsFile::open(path)->tensor("q");
    EXPECT_EQ(t.scalar_type(), at::kFloat8_e4m3fn);  // OCP "fn" variant, as vLLM writes it
    EXPECT_TRUE(at::equal(t.to(at::kFloat), at::tensor({1.0f, 2.0f, -1.0f, 1.0f / 512, 448.0f})));
}

TEST(Safetensors, MisalignedDataIsCopied) {
    const std::string dir = testing::temp_dir("st");
    float v[2] = {1.5f, -2.0f};
    std::string data(1, '\0');
    data.append(reinterpret_cast<const char*>(v), 8);
    std::string path = write_raw(dir, R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                      R"("x":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})", data);
    EXPECT_TRUE(at::equal(SafetensorsFile::open(path)->tensor("x"), at::tensor({1.5f, -2.0f})));
}

TEST(Safetensors, ErrorsNameFileAndTensor) {
    const std::string dir = testing::temp_dir("st");
    const std::string eight(8, '\0');
    {  // shorter than the length field
        std::string p = dir + "/short.safetensors";
        std::ofstream(p) << "abc";
        expect_open_error(p, {"truncated"});
    }
    {  // absurd header length
        std::string p = dir + "/huge.safetensors";
        std::ofstream out(p, std::ios::binary);
        uint64_t n = 1ull << 40;
        out.write(reinterpret_cast<const char*>(&n), 8);
        out << "{}";
        out.close();
        expect_open_error(p, {"header length"});
    }
    {  // header longer than the file
        std::string p = dir + "/cut.safetensors";
        std::ofstream out(p, std::ios::binary);
        uint64_t n = 100;
        out.write(reinterpret_cast<const char*>(&n), 8);
        out << "{}";
        out.close();
        expect_open_error(p, {"truncated"});
    }
    expect_open_error(write_raw(dir, "{not json", "", "bad.safetensors"), {"malformed"});
    expect_open_error(write_raw(dir, "[1,2]", "", "arr.safetensors"), {"not a JSON object"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", "ab", "dt.safetensors"),
                      {"'w'", "unknown dtype", "Q4"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight, "sz.safetensors"),
                      {"'w'", "needs 12 bytes", "span 8"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight, "oob.safetensors"),
                      {"'w'", "past the end"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[6,2]}})", eight, "rev.safetensors"),
                      {"'w'", "reversed"});
    expect_open_error(write_raw(dir, R"({"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},)"
                                     R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", eight, "ovl.safetensors"),
                      {"'a'", "'b'", "overlap"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", "", "neg.safetensors"),
                      {"'w'", "negative"});
    expect_open_error(write_raw(dir, R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", eight, "off.safetensors"),
                      {"'w'", "data_offsets"});
    expect_open_error(write_raw(dir, R"({"__metadata__":{"k":1}})", "", "meta.safetensors"), {"__metadata__", "'k'"});
    try {
        SafetensorsFile::open(dir + "/does-not-exist.safetensors");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kNotFound);
        EXPECT_NE(std::string(e.what()).find("does-not-exist"), std::string::npos);
    }
}

TEST(Safetensors, WriteIsAtomic) {
    const std::string dir = testing::temp_dir("st");
    const std::string path = dir + "/out.safetensors";
    io::write_safetensors(path, {{"x", at::ones({2})}});
    // Writing into a folder that does not exist fails cleanly and leaves nothing behind.
    EXPECT_THROW(io::write_safetensors(dir + "/no/such/dir/out.safetensors", {{"x", at::ones({2})}}), Error);
    EXPECT_FALSE(std::filesystem::exists(dir + "/no"));
    EXPECT_TRUE(at::equal(SafetensorsFile::open(path)->tensor("x"), at::ones({2})));
}

TEST(Safetensors, StreamingWriterWritesInHeaderOrderAndKnowsItsSize) {
    const std::string dir = testing::temp_dir("st");
    const std::string path = dir + "/big.safetensors";
    const at::Tensor a = at::arange(6, at::kFloat).reshape({2, 3});
    const at::Tensor q = at::tensor({1.0f, -2.0f, 448.0f}).to(at::kFloat8_e4m3fn);
    std::vector<io::SafetensorsWriter::Entry> entries = {{"z.first", io::DType::kF32, {2, 3}},
                                                         {"a.second", io::DType::kF8E4M3, {3}}};
    {
        io::SafetensorsWriter w(path, entries, {{"format", "pt"}});
        w.write("z.first", a);
        EXPECT_THROW(w.write("z.first", a), Error);  // out of order: names what comes next
        w.write("a.second", q);
        EXPECT_FALSE(std::filesystem::exists(path));  // only finish() publishes the file
        w.finish();
    }
    EXPECT_EQ(std::filesystem::file_size(path), io::SafetensorsWriter::file_size(entries, {{"format", "pt"}}));
    auto f = SafetensorsFile::open(path);
    EXPECT_TRUE(at::equal(f->tensor("z.first"), a));
    EXPECT_TRUE(at::equal(f->tensor("a.second").to(at::kFloat), q.to(at::kFloat)));
    EXPECT_EQ(f->metadata().at("format"), "pt");
    // pread gives the same bytes as the mapping.
    at::Tensor copy = at::empty({2, 3}, at::kFloat);
    f->read(*f->find("z.first"), copy.data_ptr());
    EXPECT_TRUE(at::equal(copy, a));
}

TEST(Safetensors, UnfinishedStreamingWriterLeavesNothing) {
    const std::string dir = testing::temp_dir("st");
    {
        io::SafetensorsWriter w(dir + "/x.safetensors", {{"x", io::DType::kF32, {2}}});
        EXPECT_THROW(w.write("x", at::ones({3})), Error);  // wrong shape
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace canter
