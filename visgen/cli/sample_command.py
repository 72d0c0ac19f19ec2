"""``visgen sample``: draw samples from a saved run folder."""
from __future__ import annotations

import math
import os
from pathlib import Path

from ..core import runfiles as rf
from ..core.atomic import replace_atomically
from ..core.errors import VisgenError
from ..core.evaluation import sample_within, time_sampling
from ..composition import load_run

#: Most samples one call draws: twice the 50,000 that sample-quality metrics (FID) use, and a
#: CSV of that many points is 2 MB; a larger --n is a typo (--n 100000000 once asked for 102 GB).
MAX_SAMPLES = 100_000

#: Most images in one PNG grid: 64 x 64 tiles, each drawn about 128 pixels wide (small images
#: are scaled up), is an 8192-pixel square (67 M pixels, a few hundred MB while it is drawn);
#: a larger grid cannot be read, and its PNG would take gigabytes to draw.
MAX_GRID_IMAGES = 4096

#: Most bytes of samples held at once (float32, all drawn before the file is written): 1 GiB,
#: what a laptop can spare beside the model; large images reach it before MAX_GRID_IMAGES.
MAX_SAMPLE_BYTES = 1 << 30

#: Samples drawn per call of the sampler: what one batch of a run holds comfortably, so a large
#: --n never makes a network's activations for all of it at once. Up to this many are drawn
#: in one call, as before (the time per sample is that of one batch).
SAMPLE_CHUNK = 1024

SUFFIXES = (".png", ".csv")


def run(args) -> int:
    """Check ``--n`` and ``--out``, load the run, sample, and write the file whole or not at all."""
    if args.n < 1:
        raise VisgenError(f"--n must be at least 1, got {args.n}")
    if args.n > MAX_SAMPLES:
        raise VisgenError(f"--n {args.n:,} is more than the {MAX_SAMPLES:,} samples one call draws")
    out = Path(args.out)
    check_out(out)  # before the run loads: a typo in --out costs nothing
    run_ = load_run(args.run_dir, settings=args.set, device=args.device, seed=args.seed)
    check_size(out, args.n, run_.dataset)
    trainer = run_.trainer
    if args.n <= SAMPLE_CHUNK:
        samples, per_sample = time_sampling(trainer, args.n)
    else:
        samples, per_sample = sample_within(trainer, args.n, math.inf, SAMPLE_CHUNK)
    if out.suffix.lower() == ".csv":
        write_atomically(out, lambda tmp: rf.save_samples_csv(tmp, samples))
    else:
        write_atomically(out, lambda tmp: rf.save_samples_png(tmp, samples, run_.dataset,
                                                              nrow=trainer.grid_columns))
    settings = " ".join(args.set)
    print(f"sampled {args.n} in {per_sample * args.n:.3f} s: {per_sample * 1e3:.4f} ms per sample"
          f"{' (' + settings + ')' if settings else ''} -> {out}")
    return 0


def check_out(out: Path) -> None:
    """Raise VisgenError (one line naming ``--out``) unless ``out`` is a .png or .csv file that
    can be written: not a folder, in a folder that exists and can be written."""
    if out.suffix.lower() not in SUFFIXES:
        raise VisgenError(f"--out {out}: output must end in .png or .csv")
    if out.is_dir():
        raise VisgenError(f"--out {out}: is a folder; name a file in it, e.g. {out / 'samples.png'}")
    parent = out.parent
    if not parent.exists():
        above = next((p for p in parent.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise VisgenError(f"--out {out}: {above} is a file, not a folder")
        raise VisgenError(f"--out {out}: folder {parent} does not exist")
    if not parent.is_dir():
        raise VisgenError(f"--out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VisgenError(f"--out {out}: folder {parent} cannot be written")


def check_size(out: Path, n: int, dataset) -> None:
    """Refuse an output that does not fit this run's samples, before any is drawn: CSV of
    images, a PNG grid of more than MAX_GRID_IMAGES, more than MAX_SAMPLE_BYTES in all."""
    if dataset.kind == "images":
        if out.suffix.lower() == ".csv":
            raise VisgenError(f"--out {out}: CSV output is for 2D points; this model makes images (use .png)")
        if n > MAX_GRID_IMAGES:
            raise VisgenError(f"--n {n:,}: a PNG grid holds at most {MAX_GRID_IMAGES:,} images")
    size = n * dataset.dim * 4  # float32
    if size > MAX_SAMPLE_BYTES:
        raise VisgenError(f"--n {n:,}: {size / 2**30:.1f} GiB of samples of shape {dataset.image_shape}; "
                          f"at most {MAX_SAMPLE_BYTES / 2**30:g} GiB are drawn at once")


def write_atomically(out: Path, write) -> None:
    """``write(tmp)``, then ``out`` replaced whole (``visgen.core.atomic``); a failure is one
    line naming ``--out``."""
    try:
        replace_atomically(out, write)
    except OSError as exc:
        raise VisgenError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None