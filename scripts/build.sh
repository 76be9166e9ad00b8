#!/usr/bin/env bash
# Configures and builds canter (release) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
ninja -C build
