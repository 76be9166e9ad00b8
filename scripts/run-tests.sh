#!/usr/bin/env bash
# Fresh Debian 12 machine -> installed dependencies, a build, and every test (GoogleTest via
# ctest). The golden reference data is read from ../shared/golden (override CANTER_GOLDEN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Python packages for the client/browser tests (tests/web) into .venv; before the build, whose
# configure step picks .venv/bin/python for them.
bash scripts/install-test-packages.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
