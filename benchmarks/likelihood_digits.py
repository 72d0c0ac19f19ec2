"""Held-out likelihood and time per sample of every family on digits, measured with `visgen train`.

    python benchmarks/likelihood_digits.py [OUT_DIR]

Trains each model below in a subprocess (the same command a learner types), reads its
summary.json and prints one row per model: exact / bound / none, held-out nats per image and
bits per dimension (8-bit convention: a uniform density scores 8), milliseconds per sample, and
the training time. Lower bits/dim is better; a bound is an upper bound on the exact figure.
About 10 minutes on a 2-core laptop CPU.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = [  # (label, model, steps, settings)
    ("VAE, Gaussian decoder (IWAE, K = 64)", "vae", 3000, ["likelihood=gaussian"]),
    ("RealNVP (multi-scale)", "realnvp", 3000, []),
    ("PixelCNN, 2 levels", "pixelcnn", 2000, []),
    ("PixelCNN, 256 levels", "pixelcnn", 2000, ["levels=256"]),
    ("DDPM (variational bound)", "ddpm", 2000, []),
    ("DCGAN", "dcgan", 1000, []),
]


def main(out: Path) -> None:
    rows = []
    for label, model, steps, settings in MODELS:
        run_dir = out / f"{model}-{len(rows)}"
        cmd = ["visgen", "train", model, "--dataset", "digits", "--steps", str(steps), "--out", str(run_dir),
               "--overwrite", *[a for s in settings for a in ("--set", s)]]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        s = json.loads((run_dir / "summary.json").read_text())
        rows.append((label, steps, s.get("likelihood") or "none", s.get("nll_nats"), s.get("bits_per_dim"),
                     1e3 * s["sample_seconds_per_sample"], s.get("train_seconds", wall)))
        print(f"  {label}: done in {wall:.0f} s", file=sys.stderr, flush=True)
    print("| model (digits, 8x8) | steps | likelihood | held-out nats / image | bits / dim | ms / sample | train s |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for label, steps, kind, nats, bpd, ms, secs in rows:
        num = (lambda v, f: "-" if v is None else format(v, f))  # noqa: E731
        print(f"| {label} | {steps} | {kind} | {num(nats, '.1f')} | {num(bpd, '.2f')} | {ms:.3g} | {secs:.0f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="visgen-likelihood-")))
