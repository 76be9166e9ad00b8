#!/usr/bin/env bash
# Fresh Debian 12 machine -> installed dependencies, a build, and the main job: a 5 s 256p clip
# with audio from a text prompt, made by the built-in demo model (created on first use under
# ~/.cache/canter; untrained, so the clip is noise). Writes canter-demo.mp4 here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/canter generate --prompt "A woman in a yellow raincoat smiles at the camera and says: \"Hello from canter.\"" \
  --seconds 5 --out canter-demo.mp4
