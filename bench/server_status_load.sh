#!/usr/bin/env bash
# Load benchmark: wrk against GET .../requests/{id}/status while the worker generates.
# Starts `canter serve` (demo model) on a fresh data dir, submits a long job, waits until it is
# IN_PROGRESS, then runs wrk for DURATION seconds with CONNECTIONS connections and prints a
# markdown row (requests/s, latency p50/p99) plus whether the job kept making progress.
#   bash bench/server_status_load.sh [build/canter] [DURATION=15] [CONNECTIONS=16] [THREADS=2]
set -euo pipefail
BIN=${1:-build/canter}
DURATION=${2:-15}
CONNECTIONS=${3:-16}
THREADS=${4:-2}
command -v wrk >/dev/null || { echo "wrk not installed (Debian: apt-get install wrk)"; exit 77; }
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
KEY=$("$BIN" keys create --name bench --credits 100000 --data "$DATA" | tail -1)
"$BIN" serve --data "$DATA" --host 127.0.0.1 --port 0 --rate-limit 0 > "$DATA/serve.log" 2>&1 &
PID=$!
for _ in $(seq 3000); do grep -q "listening on" "$DATA/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$DATA/serve.log" | head -1)
ID=$(curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"prompt":"a crowded market at dusk","duration":15,"resolution":"256p"}' "$URL/v1/queue/canter" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
STATUS="$URL/v1/queue/canter/requests/$ID/status"
for _ in $(seq 3000); do
  curl -sf -H "Authorization: Bearer $KEY" "$STATUS" | grep -q IN_PROGRESS && break; sleep 0.1
done
before=$(curl -sf -H "Authorization: Bearer $KEY" "$STATUS?logs=0")
cat > "$DATA/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DATA/auth.lua" "$STATUS?logs=0" > "$DATA/wrk.txt"
after=$(curl -sf -H "Authorization: Bearer $KEY" "$STATUS?logs=0")
cat "$DATA/wrk.txt"
frac() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("status"), d.get("progress",{}).get("fraction"))' "$1"; }
rps=$(awk '/Requests\/sec/ {print $2}' "$DATA/wrk.txt")
p50=$(awk '$1=="50%" {print $2}' "$DATA/wrk.txt")
p99=$(awk '$1=="99%" {print $2}' "$DATA/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$DATA/wrk.txt" || echo "none")
echo
echo "| connections | threads | seconds | requests/s | p50 | p99 | errors | job before -> after |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $CONNECTIONS | $THREADS | $DURATION | $rps | $p50 | $p99 | $errors | $(frac "$before") -> $(frac "$after") |"
