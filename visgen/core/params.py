"""Typed hyperparameters: one declaration drives the GUI form, the CLI's
``--set key=value`` and validation everywhere."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .errors import ParamError, UnknownNameError

_TYPES = ("float", "int", "bool", "choice", "str", "path")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a model.

    ``live`` parameters (learning rate, beta) may change while a run trains and
    apply at the next step; the others shape the model and need a reset.
    ``log`` asks the GUI to treat the range logarithmically (a log-scaled slider).
    A ``path`` is text naming a file or folder: ``visgen train`` stores it absolute, so
    the run folder loads from anywhere.
    ``kind_defaults`` overrides the default for a data kind or a named dataset,
    e.g. ``{"images": 128}`` where images want a smaller batch than 2D points, or
    ``{"shapes": 4.0}`` for the data set an experiment is built on; a dataset name
    wins over its kind.

    In the GUI form every number gets an exact-value box; a live number with both
    ``min`` and ``max`` also gets a slider over that range (``slider`` = False
    turns it off, e.g. for a batch size a learner should not scrub).
    """

    name: str
    default: Any
    type: str = "float"
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Sequence[str] = ()
    help: str = ""
    live: bool = False
    log: bool = False
    label: str = ""
    kind_defaults: Optional[dict] = None
    slider: bool = True

    def default_for(self, data_kind: Optional[str], dataset: Optional[str] = None) -> Any:
        """The default value for data of ``data_kind`` (``points`` or ``images``), or for
        the dataset named ``dataset`` where ``kind_defaults`` names it."""
        overrides = self.kind_defaults or {}
        return overrides.get(dataset, overrides.get(data_kind, self.default))

    @property
    def has_slider(self) -> bool:
        """Whether the GUI gives this parameter a slider: a live number with a finite range."""
        return (self.slider and self.live and self.type in ("float", "int")
                and self.min is not None and self.max is not None and self.max > self.min
                and (not self.log or self.min > 0))

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f"param {self.name}: type must be one of {_TYPES}")
        if self.type == "choice" and self.default not in self.choices:
            raise ValueError(f"param {self.name}: default {self.default!r} not in choices")
        self.validate(self.default)
        for v in (self.kind_defaults or {}).values():
            self.validate(v)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def describe_range(self) -> str:
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false"
        if self.type in ("float", "int"):
            lo = "-inf" if self.min is None else f"{self.min:g}"
            hi = "inf" if self.max is None else f"{self.max:g}"
            return f"{'an integer' if self.type == 'int' else 'a number'} in [{lo}, {hi}]"
        return "text"

    def parse(self, text: Any) -> Any:
        """Turn user text (or a value) into a validated value; raise ParamError otherwise."""
        if not isinstance(text, str):
            return self.validate(text)
        s = text.strip()
        try:
            if self.type == "float":
                value = float(s)
            elif self.type == "int":
                f = float(s)
                if not f.is_integer():
                    raise ValueError
                value = int(f)
            elif self.type == "bool":
                if s.lower() in _TRUE:
                    value = True
                elif s.lower() in _FALSE:
                    value = False
                else:
                    raise ValueError
            else:
                value = s
        except ValueError:
            raise ParamError(f"{self.name}: {text!r} is not {self.describe_range()}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Check a typed value; return it (normalised) or raise ParamError."""
        bad = ParamError(f"{self.name}: {value!r} is not {self.describe_range()}")
        if self.type == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.type == "choice":
            if value not in self.choices:
                raise bad
            return value
        if self.type in ("str", "path"):
            if not isinstance(value, str):
                raise bad
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if self.type == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad
                value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise bad
        return value


@dataclass
class ParamSet:
    """The parameters of a model with their current values."""

    params: Sequence[Param]
    values: dict = field(default_factory=dict)
    data_kind: Optional[str] = None
    dataset: Optional[str] = None  # the dataset's name, for defaults made for one dataset

    def __post_init__(self):
        self._by_name = {p.name: p for p in self.params}
        merged = {p.name: p.default_for(self.data_kind, self.dataset) for p in self.params}
        for k, v in self.values.items():
            merged[k] = self[k].validate(v)
        self.values = merged

    def __getitem__(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown parameter {name!r}; valid: {', '.join(self._by_name) or '(none)'}"
            ) from None

    def set(self, name: str, value: Any) -> Any:
        """Validate and store a value (text is parsed); return the stored value."""
        v = self[name].parse(value)
        self.values[name] = v
        return v

    def parse_assignments(self, items: Sequence[str]) -> dict:
        """Apply ``key=value`` strings (the CLI's ``--set``); return what changed."""
        changed = {}
        for item in items:
            if "=" not in item:
                raise ParamError(f"--set wants key=value, got {item!r}")
            k, v = item.split("=", 1)
            changed[k.strip()] = self.set(k.strip(), v)
        return changed

    def copy(self) -> "ParamSet":
        return ParamSet(self.params, dict(self.values), self.data_kind, self.dataset)
