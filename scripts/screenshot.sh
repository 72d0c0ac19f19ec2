#!/usr/bin/env bash
# Run the real app on a virtual screen (Xvfb) and save what a user would see.
#   bash scripts/screenshot.sh [MODEL:DATASET[,MODEL:DATASET...]] [SECONDS] [OUT.png] [WxH]
# Several runs (comma-separated) are shown side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-vae:digits}; SECS=${2:-20}; OUT=${3:-resources/screenshot.png}; SIZE=${4:-1600x1000}
command -v xvfb-run >/dev/null || bash scripts/system-deps.sh
unset QT_QPA_PLATFORM
args=()
IFS=, read -ra runs <<< "$RUNS"
for r in "${runs[@]}"; do args+=(--run "$r"); done
[ "${#runs[@]}" -gt 1 ] && args+=(--side-by-side)
xvfb-run -a -s "-screen 0 ${SIZE}x24" visgen "${args[@]}" --quit-after "$SECS" --screenshot "$OUT" --fresh-layout
echo "screenshot: $OUT"
