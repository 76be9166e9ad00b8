// Optional spatial tiling of one decoder call, to bound the memory of large frames: the window
// is already short in time, but at 66x120 latents one 128-channel activation is ~4.7 GB in
// bf16. The decoder is local in space (its norms are per pixel, over channels), so a tile
// decoded with `halo` latent pixels of extra context on each inner side, then cropped back,
// is exact once the halo covers the decoder's receptive radius. Neighbouring tiles also
// overlap by `overlap` pixels and are blended with linear ramps, which hides the seams when a
// smaller halo is chosen to save memory.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace canter::turbo_vaed {

struct TurboVaedConfig;

// Start offsets of tiles of `tile` covering [0, size) with at least `overlap` shared pixels
// between neighbours; the last tile ends at `size`. One tile when size <= tile.
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap);

// How far (in latent pixels, rounded up) a latent pixel can influence the decoder output:
// the sum of the spatial conv radii, each divided by the upsampling done before it.
int64_t receptive_radius(const TurboVaedConfig& config);

struct TileSpec {
    int64_t tile = 0;     // core tile size in latent pixels (> overlap)
    int64_t overlap = 0;  // blended overlap between neighbouring cores
    int64_t halo = 0;     // extra context decoded around each core and cropped away
    int64_t scale = 16;   // output pixels per latent pixel
};

// Runs `decode` on spatial tiles of z [B, C, T, h, w] and blends the outputs
// [B, O, T', h*scale, w*scale]. Throws InvalidArgument on an impossible spec.
at::Tensor decode_tiled(const at::Tensor& z, const TileSpec& spec,
                        const std::function<at::Tensor(const at::Tensor&)>& decode);

}  // namespace canter::turbo_vaed
