"""Entry point of the ``visgen`` command.

    visgen [--run MODEL[:DATASET] ...] [--side-by-side] [--set k=v ...] [--quit-after S] [--screenshot PNG]
    visgen list [--json]
    visgen train MODEL --dataset NAME [--steps N] [--set k=v ...] [--seed S] [--device D] --out DIR
    visgen sample RUN_DIR [--n N] [--set k=v ...] --out FILE
    visgen eval RUN_DIR [RUN_DIR ...] [--n N] [--budget S] [--json] [--csv FILE] [--seeds]

User mistakes (unknown names, bad values, bad data files) exit with status 2
and one line on stderr; a model that crashes exits with status 1, one that
diverges with 3, Ctrl-C with 130, a closed output pipe with 141.
"""
from __future__ import annotations

import argparse
import sys

from ..core.errors import VisgenError

COMMANDS = ("list", "train", "sample", "eval")


class _Parser(argparse.ArgumentParser):
    """Reports a usage mistake on one line, like every other user error (usage: --help)."""

    def error(self, message):  # main() prints it like every other user error, and returns 2
        raise VisgenError(f"{message} (see {self.prog} --help)")


#: Longest --quit-after: Qt's timers count milliseconds in a signed 32-bit integer
#: (2**31 - 1 ms, about 24.8 days); a longer wait would overflow, not wait.
MAX_QUIT_AFTER = (2**31 - 1) / 1000


#: Exit status when the reader of our output went away: 128 + SIGPIPE, as a shell reports it.
EXIT_BROKEN_PIPE = 141

#: Longest --budget: a day of sampling per run is already more than any comparison needs.
MAX_BUDGET = 86_400.0


def _seconds_up_to(most: float, zero_ok: bool):
    """An argparse type: a finite number of seconds up to ``most``, above 0 or from 0."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not (0 <= value if zero_ok else 0 < value) or not value <= most:  # False for NaN too
            raise argparse.ArgumentTypeError(f"{text} is not a number of seconds in "
                                             f"{'[' if zero_ok else '('}0, {int(most):,}]")
        return value
    return parse


#: ``--budget``: seconds of sampling per run, above 0.
_budget = _seconds_up_to(MAX_BUDGET, zero_ok=False)
#: ``--quit-after``: seconds before the window closes, 0 allowed.
_seconds = _seconds_up_to(MAX_QUIT_AFTER, zero_ok=True)


def _seed(text: str) -> int:
    """``--seed``: an integer in [0, MAX_SEED] (see ``visgen.core.runfiles``)."""
    from ..core.runfiles import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 2**63 - 1]")
    return value


def _check_device(args) -> None:
    """Refuse a ``--device`` this machine lacks now, before data or models load (``auto`` and
    ``cpu`` always exist; checking them would import torch for nothing)."""
    device = getattr(args, "device", "auto")
    if device not in ("auto", "cpu"):
        from ..core.trainer import resolve_device
        try:
            resolve_device(device)
        except VisgenError as exc:
            raise VisgenError(f"--device: {exc}") from None


def _gui_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="visgen", description=(
        "Open the visgen window. Subcommands: list, train, sample, eval (visgen COMMAND --help)."))
    p.add_argument("--run", action="append", default=[], metavar="MODEL[:DATASET]",
                   help="open with this run training (repeatable: one run each, in tabs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="hyperparameter of the --run models, set on each of them (repeatable)")
    p.add_argument("--side-by-side", action="store_true",
                   help="show every run at once instead of one tab at a time")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--data-path", help="file or folder for datasets that read one")
    p.add_argument("--quit-after", type=_seconds, metavar="SECONDS", help="close the window after this long")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window when it closes")
    p.add_argument("--fresh-layout", action="store_true", help="ignore the saved dock layout")
    return p


def _sub_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="visgen")
    sub = p.add_subparsers(dest="command", required=True)

    lp = sub.add_parser("list", help="models, datasets, views and plugins")
    lp.add_argument("--json", action="store_true", help="machine-readable output")

    tp = sub.add_parser("train", help="train headless and write a run folder")
    tp.add_argument("model")
    tp.add_argument("--dataset", help="dataset name (default: the model's default)")
    tp.add_argument("--data-path", help="file or folder for datasets that read one")
    tp.add_argument("--steps", type=int, help="training steps (default: the model's default)")
    tp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    tp.add_argument("--seed", type=_seed, default=0)
    tp.add_argument("--device", default="auto", help="auto, cpu or cuda")
    tp.add_argument("--out", required=True, help="run folder to write (new or empty; see --overwrite)")
    tp.add_argument("--overwrite", action="store_true",
                    help="replace the run already in --out, once the new one is complete")
    tp.add_argument("--traceback", action="store_true", help="print the whole traceback when the model fails")

    sp = sub.add_parser("sample", help="sample from a saved run")
    sp.add_argument("run_dir")
    sp.add_argument("--n", type=int, default=64)
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="sampling parameters, e.g. a sampler (structural ones must match the run)")
    sp.add_argument("--seed", type=_seed, default=0)
    sp.add_argument("--device", default="auto")
    sp.add_argument("--out", required=True, help="PNG grid, or CSV for 2D points")

    ep = sub.add_parser("eval", help="measure saved runs on one data set side by side (one row each)")
    ep.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    ep.add_argument("--n", type=int, help="samples per run (default: 1,000 images or 2,500 points)")
    ep.add_argument("--json", action="store_true", help="also print one JSON object per run")
    ep.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    ep.add_argument("--seeds", action="store_true",
                    help="add one row per model: the mean and spread over its runs (e.g. several seeds)")
    ep.add_argument("--seed", type=_seed, default=0, help="seed of the samples drawn")
    ep.add_argument("--budget", type=_budget, metavar="SECONDS",
                    help="seconds each run may spend sampling (default: the model's own budget, "
                         "30 s for most; a slow sampler draws fewer samples within it)")
    ep.add_argument("--device", default="auto")
    return p


def main(argv=None) -> int:
    """Run the ``visgen`` command; return its exit status (see ``visgen.cli.train_command``)."""
    from ..core.threads import quiet_openmp, thread_setting_problem
    quiet_openmp()  # before torch is imported anywhere: idle OpenMP threads must sleep, not spin
    if thread_setting_problem():
        print(f"visgen: warning: {thread_setting_problem()}", file=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            args = _sub_parser().parse_args(argv)
            _check_device(args)
            import importlib
            return importlib.import_module(f".{args.command}_command", __package__).run(args)
        if argv and not argv[0].startswith("-"):
            raise VisgenError(f"unknown command {argv[0]!r}; valid: {', '.join(COMMANDS)} "
                              f"(or no command to open the window)")
        args = _gui_parser().parse_args(argv)
        _check_device(args)
        from ..gui.app import run_gui
        return run_gui(args)
    except VisgenError as exc:
        print(f"visgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `visgen list --json | head`: the reader has gone, nothing is wrong here
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so exit's flush cannot fail again
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
