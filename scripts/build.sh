#!/usr/bin/env bash
# Configures and builds canter (release) into ./build against the project venv's LibTorch
# (scripts/install-torch.sh); CANTER_BUILD_DIR names another build folder. Uses ccache when it is
# installed. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CANTER_VENV:-$PWD/.venv}"
torch_prefix="$("$VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
  echo "canter: no torch in $VENV (run scripts/install-torch.sh)" >&2; exit 1; }
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  # Precompiled headers and ccache: these two sloppiness flags let ccache cache PCH builds;
  # relative paths let worktrees of the same commit share objects.
  export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
  export CCACHE_BASEDIR="$PWD"
fi
cuda=()
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
cmake -S . -B "${CANTER_BUILD_DIR:-build}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DCANTER_TEST_PYTHON="$VENV/bin/python" "${launcher[@]}" "${cuda[@]}" "$@"
ninja -C "${CANTER_BUILD_DIR:-build}"
