"""Plugin call tracing: one line on stderr per plugin call, when asked for.

``VISGEN_TRACE_PLUGINS=1`` (anything but empty or ``0``) turns it on. Each line
names the plugin, the call, how long it took and how many results came back::

    visgen trace: plugin=vae call=visgen_register_models 0.31 ms -> 1 result

The registry traces every hook call; the runtime traces trainer calls with
``call``/``span``. The switch is read once at import so that a disabled trace
costs one module-level flag check per call (trainer steps run thousands of
times a second); ``configure`` changes it afterwards.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Optional, TypeVar

ENV_TRACE = "VISGEN_TRACE_PLUGINS"
PREFIX = "visgen trace:"

T = TypeVar("T")


def _from_env() -> bool:
    return os.environ.get(ENV_TRACE, "").strip() not in ("", "0")


_enabled = _from_env()


def enabled() -> bool:
    """Whether calls are traced."""
    return _enabled


def configure(on: Optional[bool] = None) -> bool:
    """Turn tracing on or off; ``None`` reads ``VISGEN_TRACE_PLUGINS`` again. Returns the new state."""
    global _enabled
    _enabled = _from_env() if on is None else bool(on)
    return _enabled


def count(result: Any) -> int:
    """How many results a call returned: ``len()`` of a sized result, 0 for ``None``, else 1."""
    if result is None:
        return 0
    if isinstance(result, (str, bytes)):  # one value, not a collection of characters
        return 1
    try:
        return len(result)
    except TypeError:
        return 1


def format_line(plugin: str, call: str, seconds: float, result: Any = None,
                error: Optional[BaseException] = None) -> str:
    """The trace line for one call (without the newline)."""
    if error is not None:
        outcome = f"raised {type(error).__name__}"
    else:
        n = count(result)
        outcome = f"{n} result{'' if n == 1 else 's'}"
    return f"{PREFIX} plugin={plugin} call={call} {seconds * 1e3:.2f} ms -> {outcome}"


def record(plugin: str, call: str, seconds: float, result: Any = None,
           error: Optional[BaseException] = None) -> None:
    """Write one trace line to stderr for a call that took ``seconds`` (nothing when disabled).

    ``error``: the exception the call raised, reported instead of a result count.
    """
    if not _enabled:
        return
    # one write per line, so lines from several threads do not interleave mid-line
    sys.stderr.write(format_line(plugin, call, seconds, result, error) + "\n")
    sys.stderr.flush()


class Span:
    """Times a ``with`` block and records it on exit; set ``result`` inside the block.

    ::

        with trace.span("vae", "step") as s:
            s.result = trainer.step()
    """

    __slots__ = ("plugin", "call", "result", "_start")

    def __init__(self, plugin: str, call: str):
        self.plugin, self.call, self.result = plugin, call, None
        self._start = 0.0

    def __enter__(self) -> "Span":
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        record(self.plugin, self.call, time.perf_counter() - self._start, self.result, exc)


def span(plugin: str, call: str) -> Span:
    """A ``Span`` timing one call of ``plugin``; see ``Span``."""
    return Span(plugin, call)


def call(plugin: str, name: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, traced as call ``name`` of ``plugin`` when tracing is on.

    When it is off this is a plain call: no timing and no allocation, fit for a training loop.
    """
    if not _enabled:
        return fn(*args, **kwargs)
    with Span(plugin, name) as s:
        s.result = fn(*args, **kwargs)
    return s.result
