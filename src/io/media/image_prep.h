// Reference-image pre-processing for TI2V (pipeline.md §5.1), pure ATen/C++ (no FFmpeg):
// upstream `resizecrop` centre crop, Pillow-compatible Lanczos resize, scaling to [-1, 1].
// Images are uint8 [H, W, 3] RGB (HWC, as read_image_rgb returns them).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace canter::media {

// Pixel box [left, right) x [top, bottom) in the source image.
struct CropBox {
    int64_t left = 0, top = 0, right = 0, bottom = 0;
    int64_t width() const { return right - left; }
    int64_t height() const { return bottom - top; }
};

// Upstream `resizecrop` (§5.1 step 2) for a source `src_w x src_h` and target aspect
// `width x height`: no crop when the sizes are equal; else keep the full width when
// h/w > H/W (new_h = int(w*H/W)), otherwise the full height (new_w = int(h*W/H)); the box
// ((w-new_w)/2, (h-new_h)/2, (w+new_w)/2, (h+new_h)/2) is rounded per coordinate with Python's
// round (half to even) as Pillow's crop does, so the box can be 1 px larger or smaller than
// new_w/new_h. Throws kInvalidArgument for non-positive sizes or an empty box.
CropBox resizecrop_box(int64_t src_w, int64_t src_h, int64_t height, int64_t width);

// Pillow `Image.resize((width, height), Image.LANCZOS)` on an 8-bit RGB image, reproduced
// operation for operation (Resample.c): separable, horizontal pass first (only when the width
// changes), then vertical (only when the height changes); Lanczos a = 3 with the support scaled
// by the reduction factor when downscaling; coefficients normalised per output pixel, converted
// to 22-bit fixed point, accumulated in int32 with rounding, clipped to uint8 after each pass.
// Expected to be bit-exact with Pillow >= 4 (not verified against Pillow in this repo: the tests
// check the algorithm against an independent double-precision implementation to +-1).
// rgb_u8: uint8 [H, W, C] (any C, CPU or not; returned on the CPU). Same size -> a copy.
at::Tensor resize_lanczos(const at::Tensor& rgb_u8, int64_t height, int64_t width);

// §5.1 steps 2-4 (+ the time axis of step 5): centre crop, Lanczos resize to exactly
// width x height, to float32 in [-1, 1] as 2*(x/255) - 1, layout [1, 3, 1, height, width].
// Upstream then casts to bf16; callers do that on the target device.
at::Tensor prepare_reference_image(const at::Tensor& rgb_u8, int64_t height, int64_t width);

}  // namespace canter::media
