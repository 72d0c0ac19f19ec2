"""Declarations that plugins hand to visgen: models, datasets, views, view kinds.

These are cheap to build (no torch, no Qt): a plugin's hooks return them at
discovery time and heavy code is imported only when a trainer or a widget is made.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

from .params import Param

Factory = Union[str, Callable[..., Any]]


def resolve(factory: Factory) -> Callable[..., Any]:
    """Turn ``"package.module:attr"`` into the object; pass callables through."""
    if callable(factory):
        return factory
    module, _, attr = factory.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ViewDecl:
    """A view a model feeds: ``id`` is what the trainer is asked for, ``kind``
    picks the widget (``lines``, ``scatter``, ``image_grid``, ``histogram``,
    ``frames``, ``field``, ``bars`` or a kind a plugin registers).

    ``clickable`` views hand clicks (data coordinates) to ``Trainer.on_click``.
    ``scalars`` lists the scalar names a ``lines`` view plots from the run's
    scalar stream (empty: a ``Curves`` snapshot is expected instead).
    ``scrub_param`` (``frames`` views) names a live parameter set to the scrubbed
    frame's value, so other views can follow the scrubber (e.g. a field at that t).
    ``pushed`` views get their snapshots only from the trainer itself
    (``ctx.emit`` or ``on_click``); every other view without ``scalars`` needs a
    ``view_<id>`` method on the trainer, and a run refuses to build without one.
    """

    id: str
    kind: str
    title: str
    clickable: bool = False
    scalars: Sequence[str] = ()
    log_y: bool = False
    help: str = ""
    datasets: Sequence[str] = ("points", "images")
    scrub_param: str = ""
    pushed: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """Everything visgen needs to list, configure and build a model.

    ``trainer`` is a factory (``"pkg.module:Class"`` or a callable) taking a
    ``TrainContext``; it is imported only when a run is built, so listing
    models never imports torch. ``data_kinds`` says which dataset kinds
    (``points``, ``images``) the model accepts. ``theory`` is HTML (Qt's rich
    text subset) with the key equations written out, shown in the theory panel.
    ``phases`` names extra single-step actions, e.g. ``("D", "G")`` for a GAN.
    ``default_steps`` is what ``visgen train`` runs when no ``--steps`` is given.
    """

    id: str
    family: str
    title: str
    summary: str
    trainer: Factory
    params: Sequence[Param] = ()
    views: Sequence[ViewDecl] = ()
    data_kinds: Sequence[str] = ("points", "images")
    default_dataset: str = "digits"
    theory: str = ""
    phases: Sequence[str] = ()
    default_steps: int = 2000

    def __post_init__(self):
        if self.id != self.id.lower() or " " in self.id or "_" in self.id:
            raise ValueError(f"model id {self.id!r} must be lowercase with hyphens")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.id}: duplicate parameter names")

    def view(self, view_id: str) -> ViewDecl:
        for v in self.views:
            if v.id == view_id:
                return v
        raise KeyError(view_id)

    def views_for(self, data_kind: str) -> list[ViewDecl]:
        return [v for v in self.views if data_kind in v.datasets]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset visgen can load.

    ``loader(path=None, **options)`` returns a ``visgen.data.Dataset``; it raises
    ``DataError`` with a one-line message naming the file on bad input.
    ``available()`` returns ``(True, "")`` or ``(False, why)`` cheaply (no loading).
    ``takes_path`` datasets read from a file or folder; ``default_path`` is used
    when none is given. ``mixture`` datasets are Gaussian mixtures whose loader sets
    ``Dataset.mixture``: the runtime measures mode coverage on them (and shows its
    view only for them).
    """

    name: str
    title: str
    kind: str
    loader: Factory
    summary: str = ""
    takes_path: bool = False
    default_path: Optional[str] = None
    mixture: bool = False
    available: Callable[..., tuple] = field(default=lambda path=None: (True, ""))

    def __post_init__(self):
        if self.kind not in ("points", "images"):
            raise ValueError(f"dataset {self.name}: kind must be points or images")


@dataclass(frozen=True)
class ViewKind:
    """A kind of view widget. ``widget`` is a factory (``"pkg.mod:Class"``)
    called as ``widget(decl)`` in the GUI thread; the widget has
    ``show_snapshot(snapshot)`` and, for ``lines`` views, ``show_scalars``.
    ``snapshot_types`` lists the snapshot classes it can draw."""

    name: str
    widget: Factory
    snapshot_types: Sequence[type] = ()
    help: str = ""
