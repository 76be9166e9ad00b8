#!/usr/bin/env bash
# Installs what canter builds and tests with on Debian 12: Debian packages, then the pinned
# LibTorch (PyPI torch wheel) into the project venv (scripts/install-torch.sh). Idempotent.
# CANTER_NO_SERVER=1 leaves out the server's packages and the browser.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  nlohmann-json3-dev      # configs, safetensors headers
  libsentencepiece-dev    # T5Gemma tokenizer (optional at build time: CMake builds without it)
  sentencepiece           # spm_train / spm_encode: reference for the tokenizer tests
  libgtest-dev            # GoogleTest (C++11 ABI, as the pinned torch wheel)
  # media I/O (optional in CMake: without them no MP4 output / image decoding): H.264 via
  # libx264 and the native AAC encoder come with Debian's libavcodec
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
)
# canter serve / canter keys (optional in CMake: without these the server is skipped), the
# browser for its web-page test (driven by Python playwright) and wrk for the status-load bench.
SERVER_PACKAGES=(
  libsqlite3-dev          # job and key store
  libcpp-httplib-dev      # HTTP(S) server/client (pulls libssl-dev, zlib1g-dev, libbrotli-dev)
  openssl                 # self-signed certificates for the TLS tests
  chromium                # tests/web/browser_test.py
  wrk                     # bench/server_status_load.sh
)
if [ "${CANTER_NO_SERVER:-0}" != 1 ]; then PACKAGES+=("${SERVER_PACKAGES[@]}"); fi
# A python3 without its venv module (Debian's own python3) needs python3-venv for .venv.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then PACKAGES+=(python3-venv); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "canter: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
bash scripts/install-torch.sh
