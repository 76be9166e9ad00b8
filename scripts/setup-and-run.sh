#!/usr/bin/env bash
# Fresh Debian 12 machine -> installed dependencies, a build, and the main job on the built-in
# model. Until end-to-end generation lands, the main job is one real DiT forward (`canter demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/canter demo
