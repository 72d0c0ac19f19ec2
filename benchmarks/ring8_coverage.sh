#!/usr/bin/env bash
# The GAN issue's bar: default settings, 5000 steps on ring8, seed 0 -> modes covered
# (>= 7 wanted) and wall time (< 120 s wanted on 2 CPU cores). Runs one model at a time
# so the timings do not share the cores.
#   bash benchmarks/ring8_coverage.sh [MODEL ...]      (default: gan wgan-gp lsgan)
set -euo pipefail
out=$(mktemp -d)
for m in "${@:-gan wgan-gp lsgan}"; do
  for model in $m; do
    start=$(date +%s.%N)
    visgen train "$model" --dataset ring8 --steps 5000 --seed 0 --out "$out/$model" 2>/dev/null
    end=$(date +%s.%N)
    python3 - "$out/$model/summary.json" "$model" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[4]) - float(sys.argv[3])
print(f"{sys.argv[2]:<8} modes_covered {s['modes_covered']}/8  high_quality {s['high_quality']:.3f}  "
      f"wall {wall:.0f} s  ({wall / 120:.2f} of the 120 s budget)")
PY
  done
done
rm -rf "$out"
