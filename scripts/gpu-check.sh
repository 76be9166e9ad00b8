#!/usr/bin/env bash
# One command for a GPU machine (NVIDIA GPU, a python3 torch with CUDA, nvcc, cmake; no package
# registry): configures and builds the engine core (LibTorch + the header-only dependencies that
# scripts/gpu-bundle.sh put in .deps/; no FFmpeg, tokenizer or server), runs the GPU test subset
# (the golden DiT / sampling / VAE / T5Gemma cases on CUDA, the CUDA path tests) and the GPU
# benchmarks, and writes report.md (GPU, driver, versions, commit, results) into OUT_DIR.
# On a machine without a GPU it runs the same steps with the CUDA ones skipped (and says so).
#
#   scripts/gpu-check.sh OUT_DIR
# Environment: CANTER_PYTHON (python with torch; default .venv/bin/python, else python3),
# TORCH_CUDA_ARCH_LIST (default: the GPUs' own compute capabilities, else 8.0;8.9;9.0),
# GPU_CHECK_BENCH=0 to skip the benchmarks.
set -uo pipefail
OUT="${1:?usage: scripts/gpu-check.sh OUT_DIR}"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
REPORT="$OUT/report.md"
start=$(date +%s)
log() { echo "$*" | tee -a "$REPORT"; }
section() { printf '\n## %s\n\n' "$1" | tee -a "$REPORT"; }
fence() { echo '```' >> "$REPORT"; cat "$1" >> "$REPORT"; echo '```' >> "$REPORT"; }
: > "$REPORT"

PY="${CANTER_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import torch' 2>/dev/null; then PY=.venv/bin/python; else PY=python3; fi
fi
torch_info="$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
  echo "gpu-check: $PY has no torch" >&2; exit 1; }
read -r torch_version torch_cuda torch_prefix <<< "$torch_info"
gpus=""
if command -v nvidia-smi >/dev/null; then
  gpus="$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null || true)"
fi
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  caps="$(echo "$gpus" | awk -F', ' 'NF>=4 {print $4}' | sort -u | paste -sd';')"
  export TORCH_CUDA_ARCH_LIST="${caps:-8.0;8.9;9.0}"
fi
commit="$(git rev-parse HEAD 2>/dev/null || cat .deps/COMMIT 2>/dev/null || echo unknown)"

log "# canter GPU check"
log ""
log "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(hostname); commit: $commit"
log "- GPU(s): ${gpus:-none (nvidia-smi not found or no GPU)}"
log "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
log "- torch: $torch_version (CUDA ${torch_cuda:-none}) from $PY; nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\),.*/\1/p' || echo none)"
log "- TORCH_CUDA_ARCH_LIST: $TORCH_CUDA_ARCH_LIST"

# --- configure + build: engine core, tests, benches ------------------------------------------
section "Build"
cfg=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" -DCANTER_WITH_FFMPEG=OFF
     -DCANTER_WITH_SENTENCEPIECE=OFF -DCANTER_BUILD_SERVER=OFF -DTORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST")
if [ -d .deps/usr/src/googletest ]; then cfg+=(-DCANTER_GTEST_SOURCE_DIR="$PWD/.deps/usr/src/googletest"); fi
if [ -d .deps/usr/include/nlohmann ]; then cfg+=(-DCANTER_JSON_INCLUDE_DIR="$PWD/.deps/usr/include"); fi
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then cfg+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc); fi
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
t0=$(date +%s)
# CI=true would make every optional component mandatory; this build leaves them out on purpose.
if ! env -u CI cmake -S . -B build-gpu "${gen[@]}" "${cfg[@]}" > "$OUT/configure.log" 2>&1; then
  log "configure FAILED (configure.log):"; tail -30 "$OUT/configure.log" >> "$REPORT"; exit 1
fi
grep 'canter:' "$OUT/configure.log" | sed 's/^-- /- /' | tee -a "$REPORT"
if ! cmake --build build-gpu -j "$(nproc)" --target canter canter_tests canter_bench_dit_layer canter_bench_stream > "$OUT/build.log" 2>&1; then
  log "build FAILED (build.log):"; grep -m20 -B2 -A5 'error' "$OUT/build.log" >> "$REPORT"; exit 1
fi
log "- built in $(( $(date +%s) - t0 )) s"
./build-gpu/canter version > "$OUT/version.txt" 2>&1
log "- \`canter version\`: $(cat "$OUT/version.txt")"
cuda_ok=0
if grep -q "CUDA device" "$OUT/version.txt" && ! grep -q "no CUDA device" "$OUT/version.txt"; then cuda_ok=1; fi

# --- tests: golden cases on CUDA and the CUDA path ------------------------------------------
section "Tests (golden cases on CUDA, CUDA path)"
golden="${CANTER_GOLDEN_DIR:-}"
if [ -z "$golden" ]; then if [ -d .deps/golden ]; then golden="$PWD/.deps/golden"; else golden="$PWD/../shared/golden"; fi; fi
filter='*Golden*cuda*:*GoldenOnDevice*cuda*:*Attention*Cuda*:CudaPath.*:StepGraphTest.*'
negative=""
for set in dit_long vae/turbo_vaed_real; do  # golden sets that may not have been brought along
  if [ ! -e "$golden/$set" ]; then negative="$negative:*${set##*/}*"; log "- not brought along: golden/$set (its cases are left out)"; fi
done
[ -n "$negative" ] && filter="$filter-${negative#:}"
t0=$(date +%s)
CANTER_GOLDEN_DIR="$golden" ./build-gpu/tests/canter_tests --gtest_filter="$filter" > "$OUT/tests.log" 2>&1
rc=$?
passed=$(grep -c '^\[       OK \]' "$OUT/tests.log"); failed=$(grep -c '^\[  FAILED  \].*(' "$OUT/tests.log"); skipped=$(grep -c '^\[  SKIPPED \].*(' "$OUT/tests.log")
log "- filter \`$filter\`, golden from $golden: $passed passed, $failed failed, $skipped skipped, exit $rc, $(( $(date +%s) - t0 )) s"
grep -m3 -A1 '^\[  SKIPPED \]\|Skipped$' "$OUT/tests.log" | grep -v '^--' | head -4 | sed 's/^/    /' >> "$REPORT"
grep '^\[  FAILED  \].*(' "$OUT/tests.log" | sed 's/^/    /' | tee -a "$REPORT"
grep '\[compare\]\|\[summary\]' "$OUT/tests.log" | grep -i 'cuda\|summary' | head -40 > "$OUT/compare.txt" || true

# --- benchmarks ------------------------------------------------------------------------------
section "Benchmarks"
if [ "${GPU_CHECK_BENCH:-1}" = 0 ]; then
  log "- skipped (GPU_CHECK_BENCH=0)"
elif [ "$cuda_ok" = 1 ]; then
  t0=$(date +%s)
  timeout 300 ./build-gpu/bench/canter_bench_dit_layer --device cuda --reps 5 --mm-reps 3 > "$OUT/bench_dit_layer.md" 2> "$OUT/bench_dit_layer.err"
  log "- DiT layer (real width, L = 4,010, bf16) on cuda:0, exit $?, $(( $(date +%s) - t0 )) s:"
  fence "$OUT/bench_dit_layer.md"
  # Layer streaming on the GPU: 6 real-width int8 layers written to the local disk (~2.3 GB),
  # resident vs streamed through the pinned ring and the copy stream, beside the pinned H2D rate.
  t0=$(date +%s)
  timeout 240 ./build-gpu/bench/canter_bench_stream --device cuda --layers 6 --format int8 --reps 3 \
    --dir "${TMPDIR:-/tmp}/canter-stream-bench" > "$OUT/bench_stream.md" 2> "$OUT/bench_stream.err"
  log "- layer streaming (6 real-width int8 layers, 2,147 tokens) on cuda:0, exit $?, $(( $(date +%s) - t0 )) s:"
  fence "$OUT/bench_stream.md"
  rm -rf "${TMPDIR:-/tmp}/canter-stream-bench"
  log "- full 40-layer denoising step at 256p on the full-size random model: not yet (needs the in-memory random model, issue 'real size')"
else
  log "- skipped: no usable CUDA device ($(cat "$OUT/version.txt"))"
fi

section "Summary"
log "- total $(( $(date +%s) - start )) s; tests exit $rc; logs in $OUT"
exit $rc
