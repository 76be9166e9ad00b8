#include "io/media/png_writer.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <cstdint>

#include "io/media/atomic_file.h"
#include "io/media/image_prep.h"
#include "util/check.h"

namespace canter::media {

namespace {

const std::array<uint32_t, 256>& crc_table() {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    return table;
}

uint32_t crc32(const char* data, size_t n) {
    const auto& t = crc_table();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) c = t[(c ^ uint8_t(data[i])) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put_be32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
    put_be32(out, uint32_t(data.size()));
    const size_t start = out.size();
    out.append(type, 4);
    out += data;
    put_be32(out, crc32(out.data() + start, out.size() - start));
}

void check_frames(const at::Tensor& t, int64_t dims, const char* what) {
    CANTER_CHECK(t.defined() && t.dim() == dims && t.scalar_type() == at::kByte && t.size(dims - 1) == 3,
                 InvalidArgument,
                 what << ": expected uint8 " << (dims == 3 ? "[H, W, 3]" : "[F, H, W, 3]") << ", got "
                      << (t.defined() ? t.sizes() : at::IntArrayRef{}) << " "
                      << (t.defined() ? t.scalar_type() : at::kByte));
    for (int64_t d = 0; d < dims - 1; ++d)
        CANTER_CHECK(t.size(d) > 0, InvalidArgument, what << ": empty tensor " << t.sizes());
}

}  // namespace

std::string encode_png(const at::Tensor& rgb_u8) {
    check_frames(rgb_u8, 3, "PNG");
    const int64_t h = rgb_u8.size(0), w = rgb_u8.size(1);
    CANTER_CHECK(h <= (1 << 24) && w <= (1 << 24), InvalidArgument, "PNG: image too large: " << rgb_u8.sizes());
    const at::Tensor img = rgb_u8.to(at::kCPU).contiguous();
    const char* px = reinterpret_cast<const char*>(img.data_ptr<uint8_t>());

    // zlib stream: header, stored deflate blocks of <= 65535 bytes, Adler-32 of the raw data.
    const size_t row_bytes = size_t(w) * 3 + 1;  // filter byte 0 (None) + pixels
    const size_t raw_size = row_bytes * size_t(h);
    std::string z;
    z.reserve(raw_size + raw_size / 65535 * 5 + 16);
    z.push_back('\x78');
    z.push_back('\x01');
    uint32_t a = 1, b = 0;
    size_t block_left = 0;  // bytes still to emit in the current stored block
    size_t emitted = 0;
    auto put_byte = [&](char c) {
        if (block_left == 0) {
            const size_t n = std::min<size_t>(65535, raw_size - emitted);
            const bool last = emitted + n == raw_size;
            z.push_back(last ? '\x01' : '\x00');
            z.push_back(static_cast<char>(n & 0xff));
            z.push_back(static_cast<char>(n >> 8));
            z.push_back(static_cast<char>(~n & 0xff));
            z.push_back(static_cast<char>((~n >> 8) & 0xff));
            block_left = n;
        }
        z.push_back(c);
        --block_left;
        ++emitted;
        a = (a + uint8_t(c)) % 65521;
        b = (b + a) % 65521;
    };
    for (int64_t y = 0; y < h; ++y) {
        put_byte('\0');
        const char* row = px + y * w * 3;
        for (int64_t i = 0; i < w * 3; ++i) put_byte(row[i]);
    }
    put_be32(z, (b << 16) | a);

    std::string out("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    put_be32(ihdr, uint32_t(w));
    put_be32(ihdr, uint32_t(h));
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, truecolour, deflate, filter 0, no interlace
    put_chunk(out, "IHDR", ihdr);
    put_chunk(out, "IDAT", z);
    put_chunk(out, "IEND", "");
    return out;
}

void write_png(const std::string& path, const at::Tensor& rgb_u8) {
    std::string bytes;
    try {
        bytes = encode_png(rgb_u8);
    } catch (const Error& e) {
        CANTER_THROW(InvalidArgument, "cannot write '" << path << "': " << e.what());
    }
    write_file_atomic(path, bytes);
}

at::Tensor make_contact_sheet(const at::Tensor& frames, int columns, int max_tiles, int tile_width) {
    check_frames(frames, 4, "contact sheet");
    CANTER_CHECK(columns >= 1 && max_tiles >= 1 && tile_width >= 1 && tile_width <= 8192, InvalidArgument,
                 "contact sheet: columns, max_tiles must be >= 1 and tile_width in 1..8192, got "
                     << columns << ", " << max_tiles << ", " << tile_width);
    const int64_t f = frames.size(0), h = frames.size(1), w = frames.size(2);
    const int64_t tiles = std::min<int64_t>(f, max_tiles);
    const int64_t cols = std::min<int64_t>(columns, tiles);
    const int64_t rows = (tiles + cols - 1) / cols;
    const int64_t tile_h = std::max<int64_t>(1, std::llround(double(h) * tile_width / double(w)));
    at::Tensor sheet = at::zeros({rows * tile_h, cols * tile_width, 3}, at::kByte);
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t index = tiles == 1 ? 0 : std::llround(double(t) * double(f - 1) / double(tiles - 1));
        const at::Tensor tile = resize_lanczos(frames[index], tile_h, tile_width);
        const int64_t r = t / cols, c = t % cols;
        sheet.slice(0, r * tile_h, (r + 1) * tile_h).slice(1, c * tile_width, (c + 1) * tile_width).copy_(tile);
    }
    return sheet;
}

void write_contact_sheet_png(const std::string& path, const at::Tensor& frames, int columns, int max_tiles,
                             int tile_width) {
    at::Tensor sheet;
    try {
        sheet = make_contact_sheet(frames, columns, max_tiles, tile_width);
    } catch (const Error& e) {
        CANTER_THROW(InvalidArgument, "cannot write '" << path << "': " << e.what());
    }
    write_png(path, sheet);
}

}  // namespace canter::media
