// Minimal PNG writer (no zlib, no FFmpeg): 8-bit RGB, deflate "stored" blocks (uncompressed,
// ~3 bytes per pixel), CRC-32 and Adler-32 computed here. Meant for small previews such as
// contact sheets; any PNG reader opens the files.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace canter::media {

// PNG file image of `rgb_u8` uint8 [H, W, 3] (any device). Throws kInvalidArgument.
std::string encode_png(const at::Tensor& rgb_u8);

// encode_png() written atomically to `path`. Throws kInvalidArgument / kIO naming `path`.
void write_png(const std::string& path, const at::Tensor& rgb_u8);

// A grid of up to `max_tiles` frames of `frames` uint8 [F, H, W, 3], evenly spaced in time
// (first and last included), each resized (Lanczos, see image_prep.h) to `tile_width` x
// round(H * tile_width / W), laid out row-major in `min(columns, tiles)` columns, black where
// the last row is short. Returns uint8 [rows * tile_h, columns * tile_width, 3].
at::Tensor make_contact_sheet(const at::Tensor& frames, int columns = 4, int max_tiles = 16,
                              int tile_width = 320);

// make_contact_sheet() written as a PNG (atomically) to `path`.
void write_contact_sheet_png(const std::string& path, const at::Tensor& frames, int columns = 4,
                             int max_tiles = 16, int tile_width = 320);

}  // namespace canter::media
