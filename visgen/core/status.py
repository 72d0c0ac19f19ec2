"""What a run is doing, as one immutable value.

The worker and the controls replace a run's ``RunStatus`` whole, under the
run's lock, so a reader in any thread sees either the old value or the new one,
never a half-written mix (a step counter from one step with the message of
another). ``message`` is plain text; the GUI decides how to colour it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class RunState(str, Enum):
    """Where a run is in its life."""

    IDLE = "idle"            # nothing stepped since the run was made or reset
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"    # reached max_steps
    STOPPED = "stopped"      # the worker ended on request; the trainer is kept (for saving)
    FAILED = "failed"        # the trainer raised: see RunStatus.error and .traceback
    DIVERGED = "diverged"    # a scalar became NaN or infinite: see RunStatus.diverged

    @property
    def ended(self) -> bool:
        """Training cannot go on without a Reset (Train and Step do nothing)."""
        return self in (RunState.FINISHED, RunState.FAILED, RunState.DIVERGED)


@dataclass(frozen=True)
class Divergence:
    """The first non-finite scalar of a run: which one, its value, at which step."""

    scalar: str
    value: float
    step: int

    def __str__(self) -> str:
        return f"{self.scalar} became {self.value} at step {self.step}"


@dataclass(frozen=True)
class RunStatus:
    """A run's state at one moment.

    ``steps_per_second`` is measured over the last half second of running.
    ``busy`` names the trainer call the worker is inside (``"step"``,
    ``"view samples"``, ...) and ``busy_for`` how long it has been there, in
    seconds, when the status was read. ``responding`` is False when a Stop,
    Reset or Load has waited for the worker longer than
    ``Run.NOT_RESPONDING_AFTER`` seconds: the trainer is stuck inside one call,
    and the run can only be closed (the window and the process still quit).
    """

    state: RunState = RunState.IDLE
    step: int = 0
    steps_per_second: float = 0.0
    wall_time: float = 0.0          # seconds spent inside the trainer's step()
    message: str = ""               # plain text for the user
    error: Optional[str] = None     # one line, when FAILED
    traceback: str = ""             # the whole traceback, when FAILED
    diverged: Optional[Divergence] = None
    needs_reset: bool = False       # a structural parameter changed since the trainer was built
    busy: str = ""
    busy_for: float = 0.0
    responding: bool = True
    generation: int = 0             # +1 at every Reset and Load: views drawn before are stale
