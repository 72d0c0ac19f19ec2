"""Plugin discovery, guarded per plugin, and the registry of what plugins provide.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to
import, so the entry-point loop is done here: a plugin that fails to import, or
whose hook raises or returns nonsense, is recorded with its error and skipped;
everything else keeps working.

Environment:
  ``VISGEN_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points (tests register by hand).
  ``VISGEN_BLOCK_PLUGINS=name1,name2`` skips the named entry points.
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Optional

import pluggy

from . import hookspecs
from .errors import UnknownNameError
from .spec import DatasetSpec, ModelSpec, ViewKind

ENTRY_POINT_GROUP = "visgen"
ENV_DISABLE = "VISGEN_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "VISGEN_BLOCK_PLUGINS"


@dataclass
class PluginInfo:
    """One plugin as discovered: where it came from and whether it works."""

    name: str
    source: str
    error: Optional[str] = None
    detail: str = ""
    models: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class Registry:
    """Models, datasets and view kinds from every plugin that loaded."""

    def __init__(self):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.models: dict[str, ModelSpec] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self.view_kinds: dict[str, ViewKind] = {}
        self.model_plugin: dict[str, str] = {}

    # -- discovery -----------------------------------------------------
    def register(self, plugin, name: str, source: str = "builtin") -> PluginInfo:
        """Register a plugin object and collect what its hooks return, guarded."""
        info = PluginInfo(name=name, source=source)
        self.plugins.append(info)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors, duplicate names
            return self._fail(info, exc)
        try:
            self._collect(plugin, info)
        except Exception as exc:
            self.pm.unregister(plugin)
            return self._fail(info, exc)
        return info

    def load_entry_points(self) -> None:
        """Import and register every entry point of the group ``visgen``."""
        if os.environ.get(ENV_DISABLE, "").strip() not in ("", "0"):
            return
        blocked = {b.strip() for b in os.environ.get(ENV_BLOCK, "").split(",") if b.strip()}
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in blocked or self.pm.has_plugin(ep.name):
                continue
            source = f"{ep.value} ({ep.dist.name if ep.dist else 'unknown dist'})"
            try:
                plugin = ep.load()
            except BaseException as exc:  # a plugin must never take visgen down
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._fail(PluginInfo(ep.name, source), exc, append=True)
                continue
            self.register(plugin, ep.name, source)

    def _fail(self, info: PluginInfo, exc: BaseException, append: bool = False) -> PluginInfo:
        info.error = f"{type(exc).__name__}: {exc}"
        info.detail = "".join(traceback.format_exception(exc))
        if append:
            self.plugins.append(info)
        return info

    def _collect(self, plugin, info: PluginInfo) -> None:
        # Validate everything before adding anything, so a bad plugin adds nothing.
        models = self._call(plugin, "visgen_register_models", ModelSpec)
        datasets = self._call(plugin, "visgen_register_datasets", DatasetSpec)
        views = self._call(plugin, "visgen_register_views", ViewKind)
        for kind, items, table in (("model", models, self.models), ("dataset", datasets, self.datasets),
                                   ("view kind", views, self.view_kinds)):
            keys = [getattr(i, "id", None) or i.name for i in items]
            for k in keys:
                if k in table or keys.count(k) > 1:
                    raise ValueError(f"{kind} {k!r} is already registered")
        for m in models:
            self.models[m.id] = m
            self.model_plugin[m.id] = info.name
        info.models = [m.id for m in models]
        self.datasets.update({d.name: d for d in datasets})
        self.view_kinds.update({v.name: v for v in views})

    @staticmethod
    def _call(plugin, hook: str, cls: type) -> list:
        fn = getattr(plugin, hook, None)
        if fn is None:
            return []
        result = fn() or []
        items = list(result)
        for item in items:
            if not isinstance(item, cls):
                raise TypeError(f"{hook} returned {type(item).__name__}, expected {cls.__name__}")
        return items

    # -- lookup ----------------------------------------------------------
    @property
    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins if not p.ok]

    def model(self, model_id: str) -> ModelSpec:
        try:
            return self.models[model_id]
        except KeyError:
            raise UnknownNameError(
                f"unknown model {model_id!r}; valid: {', '.join(sorted(self.models)) or '(none)'}"
            ) from None

    def dataset(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown dataset {name!r}; valid: {', '.join(sorted(self.datasets))}"
            ) from None

