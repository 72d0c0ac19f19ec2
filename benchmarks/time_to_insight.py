"""Time to insight: how long after pressing Train does the window *show* what the model learnt?

    python benchmarks/time_to_insight.py [--models vae:digits,gan:ring8] [--limit 60] [--size 1600x1000] [--json]

For each model (default parameters, a fresh window each) the script opens the real
main window offscreen under ``app.exec()``, presses **Train** and, once a second,
reads what the docks hold (``view.last_snapshot``, the numbers they draw; not a
headless summary) until the idea is visible:

* VAE on images: the latent view's points sort the classes (leave-one-out 5-NN accuracy >= 0.8);
* 2D mixtures: the sample points a view draws cover every mode, high quality >= 0.5;
* digits: a small digits classifier (``visgen.metrics.digits_classifier``, trained
  once and cached) is sure of the sample grid (mean top-class probability >= 0.8)
  and sees at least 6 different digits in it.

It also records the oldest picture on screen while training (over the visible
non-scalar docks, now - ``taken_at``, once a second) and the window's training
speed against a headless run of the same model measured just before.
Goals: insight within 60 s (120 s for diffusion on images), no picture older than
5 s while training, the window at least 0.85 of headless speed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gui_overhead import WARMUP, headless_rate  # noqa: E402  (the same headless measurement)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MODELS = ("vae:digits", "gan:ring8", "wgan-gp:ring8", "ddpm:ring8", "ddpm:digits", "dcgan:digits", "cgan:digits")
from visgen.gui.freshness import STALE_AFTER as GOAL_AGE  # noqa: E402  (the docks' own rule)
GOAL_RATIO = 0.85
HEADLESS_SECONDS = 8.0


# -- what the docks show -----------------------------------------------------------------------
def criterion(family: str, kind: str, dataset: str) -> str:
    """Which idea counts: "latent" (a VAE on images), "modes" (2D data), "digits" (generated digits)."""
    if family == "VAE" and kind == "images":
        return "latent"
    if kind == "points":
        return "modes"
    if dataset == "digits":
        return "digits"
    raise SystemExit(f"time_to_insight: no criterion for a {family} model on {dataset} "
                     f"(images other than digits have no classifier here)")


class Judge:
    """Decides from the docks of one run whether the model's idea is visible yet."""

    def __init__(self, run, classifier=None):
        self.run = run
        self.classifier = classifier
        self.kind = criterion(run.spec.family, run.dataset_spec.kind, run.dataset_spec.name)
        self._judged = {}  # view id -> (step, taken_at) of the snapshot judged last

    def __call__(self, run_views) -> tuple:
        """``(ok, numbers)`` for what the visible docks hold now; numbers is None when nothing is
        new (judging the same picture twice would only cost the GUI thread, i.e. training, time)."""
        from visgen.metrics import insight

        views = {v: w for v, w in run_views.views.items() if run_views.on_screen(v)}
        if self.kind == "latent":
            snap = self._new(views, "latent")
            if snap is None:
                return False, None
            pts = next((s for s in snap.series if s.labels is not None), None)
            return (False, {"why": "no labelled points"}) if pts is None else insight.latent_sorted(pts.xy, pts.labels)
        if self.kind == "modes":
            mixture = getattr(self.run.dataset, "mixture", None)  # loaded by the worker; None until then
            view_id = next((v for v, w in views.items() if w.last_snapshot is not None
                            and insight.shown_samples(w.last_snapshot) is not None), None)
            snap = None if mixture is None or view_id is None else self._new(views, view_id)
            if snap is None:
                return False, None
            return insight.modes_shown(insight.shown_samples(snap), mixture.centers, mixture.std)
        snap = self._new(views, "samples")
        if snap is None:
            return False, None
        return insight.digits_shown(self.classifier.probabilities(insight.grid_images(snap)))

    def _new(self, views: dict, view_id: str):
        """The view's snapshot if it has one not judged before, else None."""
        view = views.get(view_id)
        snap = None if view is None else view.last_snapshot
        if snap is None or self._judged.get(view_id) == (snap.step, snap.taken_at):
            return None
        self._judged[view_id] = (snap.step, snap.taken_at)
        return snap


def oldest_picture(run_views, now: float) -> tuple:
    """``(age, view id)`` of the oldest picture among the visible non-scalar docks that have one."""
    from visgen.metrics.insight import picture_age

    oldest = (0.0, "")
    for view_id, view in run_views.views.items():
        if view.decl.scalars or view.last_snapshot is None or not run_views.on_screen(view_id):
            continue
        age = picture_age(view.last_snapshot, now)
        if not math.isnan(age) and age > oldest[0]:
            oldest = (age, view_id)
    return oldest


# -- one model -----------------------------------------------------------------------------------
def in_window(app, reg, model: str, dataset: str, limit: float, size: tuple, min_seconds: float,
              classifier, settings, trace=None) -> dict:
    """Open a window, press Train, watch once a second; return what was measured."""
    from PySide6.QtCore import QTimer

    from visgen.core.status import RunState
    from visgen.gui.main_window import MainWindow

    window = MainWindow(reg, settings=settings, restore_layout=False)
    window.resize(*size)
    window.show()
    run = window.new_run(model, dataset)
    judge = Judge(run, classifier)
    rec = {"seconds_to_insight": None, "oldest_picture_s": 0.0, "oldest_view": "", "numbers": None,
           "never_drawn": [], "error": None}
    window.panel.train_button.click()  # what the learner does (the run is the current one)
    t_train = time.monotonic()
    if run.status.state != RunState.RUNNING:  # a disabled or rewired button: measure nothing
        window.close()
        return {**rec, "error": f"Train did not start the run ({run.status.state.value})", "steps": 0,
                "gui_rate": None}
    marks = {}
    tick = QTimer()
    tick.setInterval(1000)

    def sample():
        now = time.monotonic()
        elapsed = now - t_train
        st = run.status
        views = window.run_views[run]
        if "warm" not in marks and elapsed >= WARMUP:
            marks["warm"] = (st.step, time.perf_counter())
        if st.state == RunState.RUNNING:
            age, view_id = oldest_picture(views, now)
            if age > rec["oldest_picture_s"]:
                rec["oldest_picture_s"], rec["oldest_view"] = age, view_id
            if rec["seconds_to_insight"] is None:
                ok, numbers = judge(views)
                if numbers is not None:
                    rec["numbers"] = numbers
                if ok:
                    rec["seconds_to_insight"] = elapsed
                if trace is not None:
                    print(f"  {elapsed:5.1f} s step {st.step:6d}: {numbers if numbers is not None else '(nothing new)'}; "
                          f"oldest picture {age:.1f} s ({view_id or '-'})", file=trace, flush=True)
        elif st.state != RunState.IDLE:  # failed, diverged or finished: nothing more to see
            rec["error"] = st.error or st.state.value
        done = rec["seconds_to_insight"] is not None and elapsed >= min_seconds
        if done or elapsed >= limit or rec["error"]:
            tick.stop()
            marks["end"] = (run.status.step, time.perf_counter())
            rec["never_drawn"] = sorted(v for v, w in views.views.items()
                                        if not w.decl.scalars and w.last_snapshot is None)
            window.close()

    tick.timeout.connect(sample)
    tick.start()
    app.exec()
    window.deleteLater()  # gone at the next model's app.exec(): its docks and plots cost nothing after
    (s0, t0), (s1, t1) = marks.get("warm", (0, 0.0)), marks["end"]
    rec["steps"] = s1
    rec["gui_rate"] = (s1 - s0) / (t1 - t0) if "warm" in marks and t1 > t0 else None
    return rec


# -- the script ----------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated MODEL:DATASET (default: all seven)")
    p.add_argument("--limit", type=float, default=None,
                   help="seconds per model (default: its goal, 60; 120 for ddpm on digits)")
    p.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    p.add_argument("--min-seconds", type=float, default=20.0,
                   help="train at least this long even when the idea shows sooner, so picture ages and "
                        "speed are sampled (default 20)")
    p.add_argument("--headless-seconds", type=float, default=HEADLESS_SECONDS,
                   help=f"seconds of headless training measured per model (default {HEADLESS_SECONDS:g})")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--trace", action="store_true", help="print every second's measurement (to stderr)")
    args = p.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size wants WxH, e.g. 1600x1000, got {args.size!r}")
    args.size = (w, h)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    return args


def goal_for(model: str, kind: str) -> float:
    """Seconds the idea should take at most: diffusion on images is given twice as long."""
    return 120.0 if model == "ddpm" and kind == "images" else 60.0


def main(argv=None) -> None:
    args = parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from visgen import VisgenError
    from visgen.composition import default_registry

    app = QApplication.instance() or QApplication([])
    reg = default_registry()
    info = sys.stderr if args.json else sys.stdout  # --json: stdout holds JSON lines only
    targets = []
    for target in args.models:
        model, _, dataset = target.partition(":")
        try:
            spec = reg.model(model)
            ds = reg.dataset(dataset or spec.default_dataset)
        except VisgenError as exc:
            raise SystemExit(f"time_to_insight: {exc}") from None
        targets.append((model, ds.name, ds.kind, criterion(spec.family, ds.kind, ds.name)))
    classifier = None
    if any(t[3] == "digits" for t in targets):
        from visgen.metrics.digits_classifier import cache_dir, load_digits_classifier

        t0 = time.perf_counter()
        classifier = load_digits_classifier()
        print(f"digits classifier: held-out accuracy {classifier.heldout_accuracy:.3f} "
              f"({time.perf_counter() - t0:.1f} s to load or train; cache {cache_dir()})", file=info, flush=True)
    with tempfile.TemporaryDirectory() as tmp:  # the learner's own window layout is never touched
        settings = QSettings(os.path.join(tmp, "layout.ini"), QSettings.IniFormat)
        for model, dataset, kind, _ in targets:
            limit = args.limit if args.limit is not None else goal_for(model, kind)
            headless = headless_rate(reg, model, dataset, args.headless_seconds)
            rec = in_window(app, reg, model, dataset, limit, args.size, args.min_seconds, classifier, settings,
                            trace=sys.stderr if args.trace else None)
            ratio = rec["gui_rate"] / headless if rec["gui_rate"] and headless else None
            report(args.json, model, dataset, goal_for(model, kind), limit, headless, ratio, rec)


def report(as_json: bool, model, dataset, goal, limit, headless, ratio, rec) -> None:
    """One line per model: words with the goals marked, or a JSON object."""
    tti, age = rec["seconds_to_insight"], rec["oldest_picture_s"]
    if as_json:
        print(json.dumps({
            "model": model, "dataset": dataset,
            "seconds_to_insight": None if tti is None else round(tti, 1),
            "oldest_picture_s": round(age, 2), "gui_over_headless": None if ratio is None else round(ratio, 3),
            "limit_s": limit, "oldest_view": rec["oldest_view"], "criterion": rec["numbers"],
            "steps": rec["steps"], "gui_steps_per_s": None if rec["gui_rate"] is None else round(rec["gui_rate"], 1),
            "headless_steps_per_s": round(headless, 1), "never_drawn": rec["never_drawn"], "error": rec["error"],
        }), flush=True)
        return
    seen = f"{tti:5.1f} s" if tti is not None else f"not within {limit:g} s"
    marks = ["ok" if tti is not None and tti < goal else f"goal < {goal:g} s",
             "ok" if age <= GOAL_AGE else f"goal <= {GOAL_AGE:g} s",
             "ok" if ratio is not None and ratio >= GOAL_RATIO else f"goal >= {GOAL_RATIO}"]
    speed = "n/a" if ratio is None else (f"{ratio:.3f} ({rec['gui_rate']:.0f} vs {headless:.0f} steps/s)")
    print(f"{model}:{dataset}: insight {seen} [{marks[0]}]; oldest picture {age:.1f} s ({rec['oldest_view'] or '-'}) "
          f"[{marks[1]}]; window/headless {speed} [{marks[2]}]; last {rec['numbers']}; {rec['steps']} steps"
          + (f"; never drawn: {', '.join(rec['never_drawn'])}" if rec["never_drawn"] else "")
          + (f"; ended: {rec['error']}" if rec["error"] else ""), flush=True)


if __name__ == "__main__":
    main()
