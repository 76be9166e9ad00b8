#!/usr/bin/env bash
# Full-size proof without the real weights: builds the full-size random-weight model
# (canter make-test-model --preset magihuman-distill) and runs `canter generate` on it:
#   (a) int8 model, default memory budget
#   (b) bf16 model, default memory budget
#   (c) bf16 model, --max-memory 6G (layers streamed from disk)
# recording peak RSS (/usr/bin/time -v), wall time and canter's own stage times.
# Models are built one at a time (int8: 27.2 GB, then bf16: 50.8 GB) and deleted after use,
# so the disk needs room for the larger one only. Never run in CI: it writes ~78 GB in all and
# runs for hours on a small CPU machine.
#
# usage: bash bench/fullsize_generate.sh [WORK_DIR] [RESULTS.md]
#   WORK_DIR   where the models and clips go (default ./fullsize-work); removed models at exit
#   RESULTS.md the results table (default: stdout)
# env: CANTER (binary, default build/canter), SECONDS_CLIP (2), RESOLUTION (256p), SEED (0),
#      PROMPT, EXTRA_ARGS (appended to every generate)
set -euo pipefail

WORK="${1:-$PWD/fullsize-work}"
RESULTS="${2:-}"
CANTER="${CANTER:-build/canter}"
SECONDS_CLIP="${SECONDS_CLIP:-2}"
RESOLUTION="${RESOLUTION:-256p}"
SEED="${SEED:-0}"
PROMPT="${PROMPT:-A woman in a red coat says hello to the camera in a quiet park.}"
EXTRA_ARGS="${EXTRA_ARGS:-}"

die() { echo "fullsize_generate: $*" >&2; exit 1; }
[ -x "$CANTER" ] || die "no canter binary at $CANTER (build it, or set CANTER=path)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package: time)"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# Exact model sizes from the plan (nothing is written by --dry-run).
model_bytes() { "$CANTER" make-test-model --dry-run --format "$1" | awk '$1 == "total" {print $3}'; }
BF16_BYTES="$(model_bytes bf16)"
INT8_BYTES="$(model_bytes int8)"
NEED=$(( (BF16_BYTES > INT8_BYTES ? BF16_BYTES : INT8_BYTES) + (1 << 30) ))  # + clips and slack
FREE="$(df -PB1 "$WORK" | awk 'NR == 2 {print $4}')"
if [ "$FREE" -lt "$NEED" ]; then
  die "$WORK: needs $NEED bytes free ($((NEED / 1000000000)) GB: the bf16 model is $BF16_BYTES bytes, the int8 one $INT8_BYTES, built one after the other), only $FREE bytes are free"
fi

cleanup() { rm -rf "$WORK/model-int8" "$WORK/model-bf16"; }
trap cleanup EXIT INT TERM

ROWS=()
DETAILS=""

build() {  # build FORMAT
  local dir="$WORK/model-$1"
  rm -rf "$dir"
  echo "fullsize_generate: building the $1 model in $dir" >&2
  local t0=$SECONDS
  "$CANTER" make-test-model --preset magihuman-distill --format "$1" --seed "$SEED" --out "$dir" >&2
  echo "fullsize_generate: built $1 in $((SECONDS - t0)) s" >&2
}

run_case() {  # run_case NAME MODEL_DIR [generate flags...]
  local name="$1" dir="$2"; shift 2
  local out="$WORK/$name"
  echo "fullsize_generate: ($name) canter generate --model $dir $*" >&2
  local rc=0
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "$out.time" "$CANTER" generate --model "$dir" --prompt "$PROMPT" \
      --seconds "$SECONDS_CLIP" --resolution "$RESOLUTION" --seed 1 --out "$out.mp4" "$@" $EXTRA_ARGS \
      > "$out.stdout" 2> "$out.stderr" || rc=$?
  local rss_kb wall stages
  rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")"
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out.time")"
  stages="$(grep -h "stage times" "$out.stdout" "$out.stderr" | head -1 | sed 's/^canter: stage times: *//')"
  ROWS+=("| $name | $* | $rc | $(awk -v k="$rss_kb" 'BEGIN {printf "%.2f", k / 1048576}') | $wall | ${stages:-?} |")
  DETAILS+=$'\n'"### $name (exit $rc)"$'\n\n''```'$'\n'"$(cat "$out.stdout")"$'\n'"$(tail -n 20 "$out.stderr")"$'\n''```'$'\n'
}

build int8
run_case a-int8 "$WORK/model-int8"
rm -rf "$WORK/model-int8"
build bf16
run_case b-bf16 "$WORK/model-bf16"
run_case c-bf16-6G "$WORK/model-bf16" --max-memory 6G
rm -rf "$WORK/model-bf16"

report() {
  echo "# Full-size generate with random weights"
  echo
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(uname -m), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $("$CANTER" version)"
  echo "clip: ${SECONDS_CLIP} s at $RESOLUTION; models: make-test-model --preset magihuman-distill --seed $SEED (bf16 $BF16_BYTES bytes, int8 $INT8_BYTES bytes)"
  echo
  echo "| run | flags | exit | peak RSS (GiB) | wall | canter stage times |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "## canter output"
  echo "$DETAILS"
}
if [ -n "$RESULTS" ]; then report > "$RESULTS"; echo "fullsize_generate: wrote $RESULTS" >&2; else report; fi
