#!/usr/bin/env bash
# Run the real app on a virtual screen (Xvfb) and save what a user would see.
#   bash scripts/screenshot.sh [MODEL:DATASET] [SECONDS] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-vae:digits}; SECS=${2:-20}; OUT=${3:-resources/screenshot.png}
command -v xvfb-run >/dev/null || bash scripts/system-deps.sh
unset QT_QPA_PLATFORM
xvfb-run -a -s "-screen 0 1600x1000x24" visgen --run "$RUN" --quit-after "$SECS" --screenshot "$OUT" --fresh-layout
echo "screenshot: $OUT"
