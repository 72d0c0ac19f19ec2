"""Plugin discovery, guarded per plugin, and the registry of what plugins provide.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to
import, so the entry-point loop is done here: a plugin that fails to import, or
whose hook raises or returns nonsense, is recorded with its error and skipped;
everything else keeps working.

Hooks are called through pluggy's hook callers, one plugin at a time, so that
pluggy's checks and call monitoring see every call. pluggy collects only
functions marked ``@visgen.hookimpl`` and accepts hooks it has no spec for, so
the two usual mistakes would pass in silence: a misspelt hook name and a
forgotten decorator. Both fail the plugin here, naming the function.

Environment:
  ``VISGEN_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points (tests register by hand).
  ``VISGEN_BLOCK_PLUGINS=name1,name2`` skips the named entry points.
  ``VISGEN_TRACE_PLUGINS=1`` writes a line to stderr for every hook call (see ``trace``).
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Optional

import pluggy

from . import hookspecs, trace
from .errors import UnknownNameError
from .spec import DatasetSpec, ModelSpec, ViewKind

ENTRY_POINT_GROUP = "visgen"
ENV_DISABLE = "VISGEN_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "VISGEN_BLOCK_PLUGINS"
HOOK_PREFIX = "visgen_"
MAX_ERROR = 300  # characters of PluginInfo.error; the rest is in PluginInfo.detail


@dataclass
class PluginInfo:
    """One plugin as discovered: where it came from and whether it works."""

    name: str
    source: str
    error: Optional[str] = None
    detail: str = ""
    models: list = field(default_factory=list)
    datasets: list = field(default_factory=list)
    views: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def provides(self) -> list:
        """``["models: a, b", "datasets: c", ...]`` for what it registered; [] for nothing."""
        return [f"{what}: {', '.join(names)}" for what, names in
                (("models", self.models), ("datasets", self.datasets), ("view kinds", self.views)) if names]


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
        if trace.enabled():
            _trace_hook_calls(self.pm)

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
            self._check_hooks(plugin)
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
        message = _one_line(str(exc))
        info.error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        info.detail = "".join(traceback.format_exception(exc))
        if append:
            self.plugins.append(info)
        return info

    @property
    def hook_names(self) -> list[str]:
        """The hooks a plugin may implement (those with a hookspec), sorted."""
        return sorted(name for name, caller in vars(self.pm.hook).items()
                      if not name.startswith("_") and caller.has_spec())

    def _check_hooks(self, plugin) -> None:
        """Refuse a plugin with a hook pluggy has no spec for, or a hook-like function
        pluggy did not collect because it lacks ``@visgen.hookimpl``."""
        valid = self.hook_names
        mistakes = []
        misnamed = False  # a name that is no hook: then the message lists the valid ones
        # what pm.check_pending() would raise for, but for this plugin only
        for caller in self.pm.get_hookcallers(plugin) or ():
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.optionalhook:
                    misnamed = True
                    mistakes.append(f"unknown hook {caller.name!r} in {_where(impl.function, plugin)}")
        for name in sorted(dir(plugin)):
            if not (name in valid or name.startswith(HOOK_PREFIX)):
                continue
            obj = getattr(plugin, name, None)
            if (callable(obj) and not isinstance(obj, type)
                    and self.pm.parse_hookimpl_opts(plugin, name) is None):
                misnamed = misnamed or name not in valid
                mistakes.append(f"undecorated hook {name!r} in {_where(obj, plugin)}: "
                                "decorate it with @visgen.hookimpl")
        if mistakes:
            if misnamed:
                mistakes.append(f"valid hooks: {', '.join(valid)}")
            raise pluggy.PluginValidationError(plugin, "; ".join(mistakes))

    def _collect(self, plugin, info: PluginInfo) -> None:
        # Validate everything before adding anything, so a bad plugin adds nothing.
        implemented = {caller.name for caller in self.pm.get_hookcallers(plugin) or ()}
        models = self._call(plugin, implemented, "visgen_register_models", ModelSpec)
        datasets = self._call(plugin, implemented, "visgen_register_datasets", DatasetSpec)
        views = self._call(plugin, implemented, "visgen_register_views", ViewKind)
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
        info.datasets = [d.name for d in datasets]
        info.views = [v.name for v in views]
        self.datasets.update({d.name: d for d in datasets})
        self.view_kinds.update({v.name: v for v in views})

    def _call(self, plugin, implemented: set, hook: str, cls: type) -> list:
        """Call ``hook`` of ``plugin`` alone and check every item is a ``cls``."""
        if hook not in implemented:
            return []
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        results = self.pm.subset_hook_caller(hook, remove_plugins=others)()
        items = []
        for result in results:  # one per hookimpl of this plugin; pluggy drops None
            try:
                result = iter(result)
            except TypeError:
                raise TypeError(f"{hook} returned {type(result).__name__}, "
                                f"expected a list of {cls.__name__}") from None
            items.extend(result)
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


def _one_line(text: str) -> str:
    """A message on one line, cut to ``MAX_ERROR`` characters (pluggy's run over several)."""
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "\u2026"


def _where(obj, plugin) -> str:
    """The module a plugin function comes from, for error messages."""
    return (getattr(obj, "__module__", None) or getattr(plugin, "__name__", None)
            or type(plugin).__name__)


def _trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Report every hook call of ``pm`` to ``trace``: plugins, duration, result count."""
    starts = threading.local()  # a stack per thread: hook calls may nest

    def before(hook_name, hook_impls, kwargs):
        starts.__dict__.setdefault("stack", []).append(time.perf_counter())

    def after(outcome, hook_name, hook_impls, kwargs):
        seconds = time.perf_counter() - starts.stack.pop()
        plugins = ",".join(impl.plugin_name for impl in hook_impls) or "(none)"
        if outcome.exception is not None:
            trace.record(plugins, hook_name, seconds, error=outcome.exception)
            return
        result = outcome.get_result()
        spec = getattr(pm.hook, hook_name).spec
        if not (spec and spec.opts.get("firstresult")):
            # pluggy returns one list per hookimpl; count the items they returned together
            result = [item for r in result for item in (r if isinstance(r, (list, tuple)) else (r,))]
        trace.record(plugins, hook_name, seconds, result)

    pm.add_hookcall_monitoring(before, after)
