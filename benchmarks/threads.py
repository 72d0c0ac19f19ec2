"""Headless training speed under visgen's thread rule vs one thread, on a quiet and a busy machine.

    python benchmarks/threads.py [--seconds 6] [--models vae:digits,gan:ring8,...]

For each built-in model on its default data it trains in a fresh subprocess (so
torch's thread settings start clean) for a fixed time and prints steps/s with
the default rule (``visgen.core.threads.default_threads``) and with one thread,
alone and with a second CPU-bound process busy beside it (a torch matmul loop
with torch's own default threads, like another program on the machine). The
last column is rule / one thread in the same condition: the goal is >= 0.9. The
"torch default" column is what ``visgen train`` did before the rule (torch's own
thread count and OpenMP's spinning wait policy), for comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = ("vae:digits", "gan:ring8", "wgan-gp:ring8", "ddpm:ring8", "ddpm:digits", "dcgan:digits", "cgan:digits")

WORKER = r"""
import json, os, sys, time
from visgen.core.threads import default_threads, quiet_openmp
if sys.argv[4] != "torch":
    quiet_openmp()
import torch
from visgen.composition import default_registry
from visgen.core.run import Run
model, dataset, seconds, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
# "torch": what visgen train did before the rule - torch's own default, OpenMP's default wait policy
n = torch.get_num_threads() if threads == "torch" else default_threads() if threads == "rule" else int(threads)
torch.set_num_threads(n)
run = Run(default_registry(), model, dataset, threads=n)
run.build()
run.train(5)                      # warm-up: allocation, first kernels
t0, s0 = time.perf_counter(), run.step
while time.perf_counter() - t0 < seconds:
    run.train(5)
print(json.dumps({"threads": n, "steps_per_second": (run.step - s0) / (time.perf_counter() - t0)}))
"""

BUSY = r"""
import time, torch
a = torch.randn(512, 512)
end = time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    a = (a @ a).clamp_(-1, 1)
"""


def measure(model: str, dataset: str, seconds: float, threads: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "VISGEN_THREADS")}
    out = subprocess.run([sys.executable, "-c", WORKER, model, dataset, str(seconds), threads],
                         capture_output=True, text=True, env=env, timeout=seconds * 10 + 120)
    if out.returncode != 0:
        raise SystemExit(f"{model}:{dataset} failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="timed training per measurement")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args()
    from visgen.core.threads import default_threads, usable_cores
    print(f"# {usable_cores()} usable cores; rule gives {default_threads()} thread(s)", file=sys.stderr)
    if not args.json:
        print(f"{'model':<16} {'busy':<5} {'torch default':>13} {'rule steps/s':>12} {'1 thread':>10} {'rule/1':>7}")
    for item in args.models.split(","):
        model, _, dataset = item.partition(":")
        for busy in (False, True):
            hog = None
            if busy:  # long enough for both measurements, stopped after them
                hog = subprocess.Popen([sys.executable, "-c", BUSY, str(6 * args.seconds + 180)])
                time.sleep(1.0)
            try:
                torch_default = measure(model, dataset, args.seconds, "torch")
                rule = measure(model, dataset, args.seconds, "rule")
                one = measure(model, dataset, args.seconds, "1")
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
            ratio = rule["steps_per_second"] / max(one["steps_per_second"], 1e-9)
            if args.json:
                print(json.dumps({"model": model, "dataset": dataset, "busy": busy, "rule_threads": rule["threads"],
                                  "torch_default_steps_per_second": round(torch_default["steps_per_second"], 2),
                                  "rule_steps_per_second": round(rule["steps_per_second"], 2),
                                  "one_thread_steps_per_second": round(one["steps_per_second"], 2),
                                  "ratio": round(ratio, 3)}), flush=True)
            else:
                print(f"{item:<16} {'yes' if busy else 'no':<5} {torch_default['steps_per_second']:>13.1f} "
                      f"{rule['steps_per_second']:>12.1f} "
                      f"{one['steps_per_second']:>10.1f} {ratio:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
