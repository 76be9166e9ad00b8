#!/usr/bin/env bash
# Installs the pinned Python packages of the client and browser tests (tests/web) into the
# project's virtual environment: the one scripts/install-torch.sh uses (.venv, ignored by git;
# override with CANTER_VENV). Idempotent: does nothing when the pinned versions are importable.
#
#   openai      official OpenAI client (videos API)      tests/web/clients_test.py
#   fal-client  official fal client (queue API)          tests/web/clients_test.py
#   playwright  drives Debian's chromium                  tests/web/browser_test.py
#
# `playwright install` (a browser download) is never run: the test uses /usr/bin/chromium.
# An installed torch is pinned to its version, so these installs can never change it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CANTER_VENV:-$PWD/.venv}"
PY="${CANTER_PYTHON:-python3}"
PINS=(openai==3.60.0 fal-client==1.0.3 playwright==1.65.2)

if [ ! -x "$VENV/bin/python" ]; then
  echo "canter: creating the virtual environment $VENV"
  "$PY" -m venv "$VENV" || {
    echo "canter: '$PY -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
VPY="$VENV/bin/python"

# Every pin installed at its version and its module importable?
have_all() {
  "$VPY" - "${PINS[@]}" <<'EOF' 2>/dev/null
import importlib.metadata, importlib.util, sys
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    if importlib.metadata.version(name) != version or importlib.util.find_spec(name.replace("-", "_")) is None:
        sys.exit(1)
EOF
}

if have_all; then
  echo "canter: test packages already in $VENV (${PINS[*]})"
  exit 0
fi
echo "canter: installing ${PINS[*]} into $VENV"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$VPY" -c 'import importlib.metadata as m; print("torch==" + m.version("torch"))' >"$constraints" 2>/dev/null || true
"$VPY" -m pip install --quiet --disable-pip-version-check -c "$constraints" "${PINS[@]}"
have_all || { echo "canter: ${PINS[*]} still not importable from $VPY" >&2; exit 1; }
echo "canter: test packages installed"
