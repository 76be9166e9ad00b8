#!/usr/bin/env bash
# Installs the pinned LibTorch (the PyPI `torch` wheel: CPU and CUDA in one build) into the
# project's own virtual environment (.venv, ignored by git; override with CANTER_VENV).
# Idempotent: does nothing when the pinned version is already there.
#
# Why this wheel: torch 2.15.0 on PyPI is built against CUDA 13.2 with the C++11 ABI. Its CUDA
# major (13) must match the toolkit that compiles canter's CUDA code (nvcc): the runtime libraries
# come from the wheel's nvidia-* packages, and a CUDA 12 wheel cannot link .cu objects built by a
# CUDA 13 nvcc. See docs/platform.md for the minimum version and the ABI rules.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PIN="${CANTER_TORCH_VERSION:-2.15.0}"
VENV="${CANTER_VENV:-$PWD/.venv}"
PY="${CANTER_PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "canter: creating the virtual environment $VENV"
  "$PY" -m venv "$VENV" || {
    echo "canter: '$PY -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
have="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
if [ "$have" != "$TORCH_PIN" ]; then
  echo "canter: installing torch==$TORCH_PIN into $VENV (about 5 GB with its CUDA libraries)"
  start=$(date +%s)
  "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_PIN"
  echo "canter: torch installed in $(( $(date +%s) - start )) s, venv size $(du -sh "$VENV" | cut -f1)"
fi

# The wheel's CUDA major must equal the toolkit's (when there is a toolkit at all).
wheel_cuda="$("$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null)"
NVCC="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
if [ -n "$wheel_cuda" ] && [ -x "$NVCC" ]; then
  toolkit_cuda="$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')"
  if [ "${wheel_cuda%%.*}" != "${toolkit_cuda%%.*}" ]; then
    echo "canter: torch $TORCH_PIN is built for CUDA $wheel_cuda but nvcc is CUDA $toolkit_cuda:" \
         "the CUDA majors must match (pick a torch whose CUDA major is ${toolkit_cuda%%.*}," \
         "CANTER_TORCH_VERSION=..., or point CUDACXX at a matching nvcc)" >&2
    exit 1
  fi
  echo "canter: torch $TORCH_PIN (CUDA $wheel_cuda) with nvcc CUDA $toolkit_cuda: CUDA majors match"
fi
