// Image decoding through libavcodec (needs FFmpeg; see media.h): PNG, JPEG, WebP (still),
// GIF (first frame) and BMP, recognised by their signature bytes, not by the file name.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace canter::media {

struct ImageLimits {
    int64_t max_file_bytes = 50ll << 20;  // 50 MiB
    int64_t max_pixels = 64ll << 20;      // 64 Mi pixels (8192 x 8192)
};

// Decodes the image file at `path` to uint8 [H, W, 3] RGB (CPU).
// * EXIF orientation (JPEG; whatever else libavcodec exports) is applied like Pillow's
//   exif_transpose / diffusers load_image, so the result is upright.
// * Alpha is dropped (not composited), as Pillow's convert("RGB") does; grey, palette and
//   16-bit images are converted to 8-bit RGB.
// * Colour conversion (JPEG/WebP YCbCr -> RGB) is libswscale's, so JPEG pixels may differ from
//   Pillow/libjpeg by a few levels.
// Limits are checked from the header before any pixel is decoded.
// Errors (canter::Error, message names the file): kNotFound (missing), kIO (unreadable),
// kInvalidArgument (not a supported image; over a limit, naming the limit), kCorruption
// (truncated or undecodable), kUnsupported (built without FFmpeg).
at::Tensor read_image_rgb(const std::string& path, const ImageLimits& limits = {});

// Same for an image held in memory (e.g. an HTTP upload); `name` is used in messages.
at::Tensor decode_image_rgb(const std::string& bytes, const std::string& name, const ImageLimits& limits = {});

// Encodes uint8 [H, W, C] (C = 3 RGB, 4 RGBA, 1 grey) as "png", "jpeg", "webp" (needs libwebp
// in FFmpeg), "bmp" or "gif" through libavcodec and returns the file bytes. `quality` 1..100
// applies to JPEG and WebP. Used for thumbnails and by the tests. Throws kUnsupported when
// the encoder is missing, kInvalidArgument for a bad tensor or format.
std::string encode_image(const at::Tensor& rgb_u8, const std::string& format, int quality = 90);

}  // namespace canter::media
