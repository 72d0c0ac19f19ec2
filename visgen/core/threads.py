"""How many threads torch may use for one training run, and why.

Measured on a 2-core machine: with torch's default (one thread per core) and
OpenMP's spinning wait policy, a small model's step rate collapsed from ~190
to ~7 steps/s as soon as anything else wanted a core (the GUI thread, another
process), because the threads spin against each other and against that work.
The rule: every core this process may use except one, at most ``MAX_THREADS``
(small models gain nothing from more), at least one; an explicit
``OMP_NUM_THREADS`` or ``VISGEN_THREADS`` wins. Idle threads must sleep rather
than spin, so the CLI sets ``OMP_WAIT_POLICY=PASSIVE`` before torch is imported
(it is read once, when torch loads). ``benchmarks/threads.py`` measures the rule.
"""
from __future__ import annotations

import os

MAX_THREADS = 4
ENV = "VISGEN_THREADS"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Torch intra-op threads for one run under the rule above."""
    for name in (ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(MAX_THREADS, usable_cores() - 1))


def thread_setting_problem() -> str:
    """One line saying why ``VISGEN_THREADS`` is ignored, or "" when it is unset or valid."""
    value = os.environ.get(ENV)
    if value is None or (value.strip().isdigit() and int(value) > 0):
        return ""
    return (f"{ENV}={value!r} is not a whole number of threads above 0; ignored, "
            f"using {default_threads()}")


def quiet_openmp() -> None:
    """Make idle OpenMP threads sleep; effective only before torch is first imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
