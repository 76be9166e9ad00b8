// Spatial tiling of the Wan2.2 VAE decoder's upsampling half, for memory at real sizes.
//
// The decoder's middle (latent resolution) holds an attention over the whole frame, so it always
// runs untiled; it is small (C x h x w per frame). The upsampling half is local convolutions only
// and is where the memory goes (256 channels at 8x the latent size, plus its streaming caches),
// so it runs on overlapping tiles of the middle output, each streamed over all frames with its
// own cache, and the decoded tiles are blended. Within an overlap of o pixels, each tile's weight
// is 0 for the 3o/8 pixels nearest its cut edge (where its zero padding stands in for the missing
// neighbours) and ramps linearly to 1 over the next o/4; neighbouring ramps sum to 1.
//
// Accuracy: the error of a tile near a cut edge decays quickly with the distance from it. With
// the golden random weights it is ~0.3 at 2 latent pixels, ~6e-3 at 6, ~1e-3 at 7 and ~1e-5 from
// 9 on, so an overlap of 24 latent pixels (9 dead) blends values that match the untiled decode
// to ~1e-5; the default 16 (6 dead) trades some of that for less recomputation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace canter::wan_vae {

class WanVae;

// Start offsets of tiles of `tile` covering [0, size) with at least `overlap` shared between
// neighbours; the last tile ends exactly at `size`. One tile {0} when size <= tile.
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap);

// Per-pixel blend weights [len] of one tile along one axis; `before` / `after` are the pixel
// overlaps with the previous / next tile (0 at the image border).
at::Tensor blend_weights(int64_t len, int64_t before, int64_t after);

// model.decode_upsample(mid) computed tile by tile (options().tile_latent_size / tile_overlap).
at::Tensor decode_upsample_tiled(const WanVae& model, const at::Tensor& mid);

}  // namespace canter::wan_vae
