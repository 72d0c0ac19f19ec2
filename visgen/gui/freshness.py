"""How old a view's picture is, in words: the line at the top of every dock.

A picture that is older than the run by more than ``STALE_AFTER`` seconds while
the run trains is said to be old, with why (what one picture costs) and what
refreshes it; a preview (a cheaper picture drawn while training) says so.
"""
from __future__ import annotations

from ..core.status import RunState, RunStatus

STALE_AFTER = 5.0  # seconds: older than this while training, a picture is flagged


def snapshot_freshness(snap, status: RunStatus, now: float) -> tuple:
    """``(text, stale, why)`` for a snapshot shown while the run is in ``status``
    (``now`` on the ``time.monotonic`` clock the runtime stamps ``taken_at`` with)."""
    text = f"step {snap.step:,}"
    age = now - snap.taken_at if snap.taken_at else 0.0
    training = status.state == RunState.RUNNING
    stale = training and age > STALE_AFTER
    why = ""
    if training and age >= 1.0:
        text += f" · {age:.0f} s ago"
    elif not training and snap.step == status.step and not snap.preview:
        text += " (current)"
    if stale:
        text += f" · run at step {status.step:,}"
        why = (f"This picture takes {snap.cost:.2f} s to compute; while training, visgen takes it "
               f"only as often as it can without slowing training much. Pause or Step to see the "
               f"current model now; a smaller or cheaper view setting refreshes it more often.")
    if snap.preview:
        text += f" · {snap.preview}"
    return text, stale, why


def scalars_freshness(last_step: int) -> tuple:
    """``(text, stale, why)`` for a curve view: curves are drawn up to their last step."""
    return (f"to step {last_step:,}" if last_step else "", False, "")
