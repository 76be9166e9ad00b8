#!/usr/bin/env bash
# Installs the Debian 12 packages canter builds and tests with. Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev            # tensor library (ATen), CPU build
  libopenblas0-pthread    # fast fp32 BLAS for LibTorch (the default reference BLAS is ~20x slower)
  nlohmann-json3-dev      # configs, safetensors headers
  libsentencepiece-dev    # T5Gemma tokenizer (optional at build time: CMake builds without it)
  sentencepiece           # spm_train / spm_encode: reference for the tokenizer tests
  libgtest-dev libgmock-dev libbenchmark-dev
  # media I/O (optional in CMake: without them no MP4 output / image decoding): H.264 via
  # libx264 and the native AAC encoder come with Debian's libavcodec
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
)
# canter serve / canter keys (optional in CMake: without these the server is skipped) and its
# client, browser and load tests: node + npm run tests/web, chromium is driven by playwright-core,
# wrk measures status polling (bench/RESULTS.md).
SERVER_PACKAGES=(
  libsqlite3-dev          # job and key store
  libcpp-httplib-dev      # HTTP server/client (pulls libssl-dev, zlib1g-dev, libbrotli-dev)
  nodejs npm chromium     # tests/web: official clients + browser test
  wrk                     # bench/server_status_load.sh
)
if [ "${CANTER_NO_SERVER:-0}" != 1 ]; then PACKAGES+=("${SERVER_PACKAGES[@]}"); fi
missing=()
for p in "${PACKAGES[@]}"; do
  # A node from elsewhere (e.g. NodeSource, which bundles npm and conflicts with Debian's npm) is fine.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "canter: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
