#!/usr/bin/env bash
# Fresh Debian 12 machine -> installed dependencies, a build, and every test (GoogleTest via
# ctest). The golden reference data is read from ../shared/golden (override CANTER_GOLDEN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Client/browser tests (tests/web) need their npm packages; without npm or a registry they skip.
if command -v npm >/dev/null && [ -f tests/web/package-lock.json ]; then
  (cd tests/web && npm ci --no-audit --no-fund) || echo "run-tests: npm ci failed; tests/web will be skipped"
fi
ctest --test-dir build --output-on-failure -j "$(nproc)"
