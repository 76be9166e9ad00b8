// WAV and PNG writers (pure C++, no FFmpeg): byte-level checks with independent parsers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/media/png_writer.h"
#include "io/media/wav_writer.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
uint32_t le(const std::string& b, size_t i, int n) {
    uint32_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | uint8_t(b[i + k]);
    return v;
}
uint32_t be32(const std::string& b, size_t i) {
    return (uint32_t(uint8_t(b[i])) << 24) | (uint8_t(b[i + 1]) << 16) | (uint8_t(b[i + 2]) << 8) | uint8_t(b[i + 3]);
}
std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(WavWriter, HeaderAndClampedRoundedSamples) {
    const std::string dir = testing::temp_dir("wav");
    const std::string path = dir + "/a.wav";
    // [2, 4]: channel 0 and 1 interleaved in the file.
    const at::Tensor audio = at::tensor({0.5f, -1.5f, 1.0f, NAN, 0.25f, -0.5f, 2.0f, 1.0f / 32767.0f}).reshape({2, 4});
    media::write_wav(path, audio, 44100);
    const std::string b = slurp(path);
    ASSERT_EQ(b.size(), 44u + 16u);
    EXPECT_EQ(b.substr(0, 4), "RIFF");
    EXPECT_EQ(le(b, 4, 4), 36u + 16u);
    EXPECT_EQ(b.substr(8, 8), "WAVEfmt ");
    EXPECT_EQ(le(b, 16, 4), 16u);     // fmt size
    EXPECT_EQ(le(b, 20, 2), 1u);      // PCM
    EXPECT_EQ(le(b, 22, 2), 2u);      // channels
    EXPECT_EQ(le(b, 24, 4), 44100u);  // rate
    EXPECT_EQ(le(b, 28, 4), 44100u * 4);
    EXPECT_EQ(le(b, 32, 2), 4u);      // block align
    EXPECT_EQ(le(b, 34, 2), 16u);     // bits
    EXPECT_EQ(b.substr(36, 4), "data");
    EXPECT_EQ(le(b, 40, 4), 16u);
    // 0.5*32767 = 16383.5 -> 16384 (half to even); -1.5 -> -1 -> -32767; NaN -> 0; 2 -> 32767.
    const std::vector<int> expected = {16384, 8192, -32767, -16384, 32767, 32767, 0, 1};
    // 0.25*32767 = 8191.75 -> 8192; -0.5*32767 = -16383.5 -> -16384
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(int16_t(le(b, 44 + 2 * i, 2)), expected[i]) << "sample " << i;
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"a.wav"});
}

TEST(WavWriter, ErrorsNamePathAndLeaveNothing) {
    const std::string dir = testing::temp_dir("wav_err");
    const std::string missing = dir + "/no/such/folder/a.wav";
    std::string msg = testing::error_of([&] { media::write_wav(missing, at::zeros({1, 10}), 16000); });
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    msg = testing::error_of([&] { media::write_wav(dir + "/b.wav", at::zeros({10}), 16000); });
    EXPECT_NE(msg.find("[channels, samples]"), std::string::npos) << msg;
    msg = testing::error_of([&] { media::write_wav(dir + "/b.wav", at::zeros({1, 10}), 0); });
    EXPECT_NE(msg.find("sample_rate"), std::string::npos) << msg;
    msg = testing::error_of([&] { media::write_wav(dir, at::zeros({1, 10}), 16000); });
    EXPECT_NE(msg.find("folder"), std::string::npos) << msg;
    EXPECT_TRUE(files_in(dir).empty());
}

// Parses a PNG written by encode_png: checks chunk CRCs are present, inflates stored blocks.
at::Tensor parse_stored_png(const std::string& b) {
    EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    size_t i = 8;
    uint32_t w = 0, h = 0;
    std::string idat;
    bool iend = false;
    while (i + 12 <= b.size()) {
        const uint32_t len = be32(b, i);
        const std::string type = b.substr(i + 4, 4);
        const std::string data = b.substr(i + 8, len);
        if (type == "IHDR") {
            w = be32(data, 0);
            h = be32(data, 4);
            EXPECT_EQ(data.substr(8, 5), std::string("\x08\x02\x00\x00\x00", 5));
        } else if (type == "IDAT") {
            idat += data;
        } else if (type == "IEND") {
            iend = true;
        }
        i += 12 + len;
    }
    EXPECT_TRUE(iend);
    EXPECT_EQ(i, b.size());
    // zlib: 2-byte header, stored blocks, adler32.
    std::string raw;
    size_t p = 2;
    for (;;) {
        const uint8_t hdr = uint8_t(idat[p]);
        EXPECT_EQ(hdr & 6, 0) << "stored block";
        const uint32_t len = le(idat, p + 1, 2), nlen = le(idat, p + 3, 2);
        EXPECT_EQ(len ^ 0xFFFF, nlen);
        raw += idat.substr(p + 5, len);
        p += 5 + len;
        if (hdr & 1) break;
    }
    EXPECT_EQ(p + 4, idat.size());
    uint32_t a = 1, s2 = 0;
    for (char c : raw) {
        a = (a + uint8_t(c)) % 65521;
        s2 = (s2 + a) % 65521;
    }
    EXPECT_EQ(be32(idat, p), (s2 << 16) | a);
    at::Tensor img = at::empty({int64_t(h), int64_t(w), 3}, at::kByte);
    EXPECT_EQ(raw.size(), size_t(h) * (size_t(w) * 3 + 1));
    for (uint32_t y = 0; y < h; ++y) {
        EXPECT_EQ(raw[y * (w * 3 + 1)], 0) << "filter byte";
        std::memcpy(img[y].data_ptr<uint8_t>(), raw.data() + y * (w * 3 + 1) + 1, w * 3);
    }
    return img;
}

TEST(PngWriter, RoundTripsThroughIndependentParser) {
    at::manual_seed(5);
    for (const auto& [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {7, 13}, {150, 200}}) {  // 150x200: >1 block
        const at::Tensor img = at::randint(0, 256, {h, w, 3}, at::kByte);
        EXPECT_TRUE(at::equal(parse_stored_png(media::encode_png(img)), img)) << h << "x" << w;
    }
}

TEST(ContactSheet, LayoutTilesAndPng) {
    // 10 solid frames, colour = frame index * 20.
    at::Tensor frames = at::empty({10, 48, 64, 3}, at::kByte);
    for (int f = 0; f < 10; ++f) frames[f].fill_(f * 20);
    const at::Tensor sheet = media::make_contact_sheet(frames, 4, 16, 32);
    ASSERT_EQ(sheet.sizes(), (at::IntArrayRef{3 * 24, 4 * 32, 3}));  // 10 tiles in 4 columns, 32x24
    for (int t = 0; t < 10; ++t) {
        const int r = t / 4, c = t % 4;
        const at::Tensor tile = sheet.slice(0, r * 24, r * 24 + 24).slice(1, c * 32, c * 32 + 32);
        EXPECT_TRUE(at::equal(tile, at::full_like(tile, t * 20))) << "tile " << t;
    }
    EXPECT_EQ(sheet.slice(0, 48, 72).slice(1, 64, 128).max().item<int>(), 0);  // empty slots are black

    // Fewer tiles than frames: first and last frame always included.
    const at::Tensor few = media::make_contact_sheet(frames, 2, 3, 16);
    ASSERT_EQ(few.sizes(), (at::IntArrayRef{2 * 12, 2 * 16, 3}));
    EXPECT_EQ(few[0][0][0].item<int>(), 0);
    EXPECT_EQ(few[0][16][0].item<int>(), 5 * 20);  // round(1 * 9 / 2) = 5 (4.5 rounds away)
    EXPECT_EQ(few[12][0][0].item<int>(), 9 * 20);

    const std::string dir = testing::temp_dir("sheet");
    media::write_contact_sheet_png(dir + "/s.png", frames, 4, 16, 32);
    EXPECT_TRUE(at::equal(parse_stored_png(slurp(dir + "/s.png")), sheet));
    EXPECT_NE(testing::error_of([&] { media::write_contact_sheet_png(dir + "/t.png", frames, 0); }).find("columns"),
              std::string::npos);
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"s.png"});
}

}  // namespace
}  // namespace canter
