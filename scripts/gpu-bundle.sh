#!/usr/bin/env bash
# Run on a CPU machine before a GPU check: fills .deps/ (ignored by git, carried to the GPU
# machine with the working tree, which has no package registry) with what the engine core and
# its tests need besides LibTorch: nlohmann-json's headers, GoogleTest's sources, the commit id,
# and a subset of ../shared/golden that fits the ~60 MiB that can be brought along.
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN="${CANTER_GOLDEN_DIR:-$PWD/../shared/golden}"
DEPS=.deps
mkdir -p "$DEPS/debs" "$DEPS/golden"
for pkg in nlohmann-json3-dev googletest; do
  if ! ls "$DEPS/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    (cd "$DEPS/debs" && apt-get download "$pkg")
  fi
  dpkg -x "$DEPS/debs/${pkg}_"*.deb "$DEPS"
done
rm -rf "$DEPS/debs" "$DEPS/usr/share/doc"
# Golden subset: the DiT, sampling, VAE and T5Gemma sets (~44 MB). dit_long (56 MB) does not fit
# beside them; gpu-check.sh leaves out the cases whose files were not brought.
for set in dit sampling vae t5gemma; do
  rm -rf "$DEPS/golden/$set"
  cp -r "$GOLDEN/$set" "$DEPS/golden/$set"
done
git rev-parse HEAD > "$DEPS/COMMIT" 2>/dev/null || echo unknown > "$DEPS/COMMIT"
if ! git diff --quiet HEAD 2>/dev/null; then echo "$(cat "$DEPS/COMMIT") + uncommitted changes" > "$DEPS/COMMIT"; fi
du -sh "$DEPS"
