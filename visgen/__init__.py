"""visgen: learn generative models by watching them learn.

This module is the public API for plugin authors. Importing it is cheap (no
torch, no Qt); ``Trainer``, ``TrainContext``, ``to_numpy`` and ``Run`` load
torch on first use. Shared model pieces live in ``visgen.nn``.
"""
from .core.coverage import mode_coverage
from .core.errors import (CheckpointError, DataError, ParamError, PluginError, UnknownNameError,
                          VisgenError)
from .core.hookspecs import hookimpl, hookspec
from .core.imaging import PALETTE, chw_to_hwc, class_color, tile
from .core.params import Param
from .core.snapshots import (Bars, Curves, Field2D, FrameSequence, Histogram,
                             HistogramSeries, ImageGrid, PointSet, Scatter, Snapshot,
                             Vectors, ViewProblem)
from .core.spec import DatasetSpec, ModelSpec, ViewDecl, ViewKind
from .core.dataset import Dataset, Mixture

__version__ = "0.1.0"

from .lazy_names import lazy_getattr

_LAZY = {
    "Trainer": ".core.trainer",
    "TrainContext": ".core.trainer",
    "to_numpy": ".core.trainer",
    "Run": ".core.run",
    "load_run": ".composition",
    "RunState": ".core.status",
    "RunStatus": ".core.status",
    "Registry": ".core.registry",
    "default_registry": ".composition",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "hookimpl", "hookspec", "Param", "ModelSpec", "DatasetSpec", "ViewDecl", "ViewKind",
    "Dataset", "Mixture", "Snapshot", "Scatter", "PointSet", "Vectors", "Histogram",
    "HistogramSeries", "ImageGrid", "FrameSequence", "Field2D", "Bars", "Curves",
    "mode_coverage", "tile", "chw_to_hwc", "class_color", "PALETTE", "VisgenError", "DataError", "ParamError", "CheckpointError", "UnknownNameError",
    "PluginError", "ViewProblem",
    *_LAZY,
]
