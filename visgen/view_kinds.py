"""The built-in view kinds, registered like any plugin's.

Widgets are named by ``"module:Class"`` strings so this module never imports Qt:
headless runs and model listing stay Qt-free.
"""
from __future__ import annotations

from .core.hookspecs import hookimpl
from .core.snapshots import Bars, Curves, Field2D, FrameSequence, Histogram, ImageGrid, Scatter
from .core.spec import ViewKind

_W = "visgen.gui.views."


@hookimpl
def visgen_register_views():
    return [
        ViewKind("lines", _W + "lines:LinesView", (Curves,),
                 "Curves over steps: the run's scalars (smoothed, raw drawn faint) or a Curves snapshot."),
        ViewKind("scatter", _W + "scatter:ScatterView", (Scatter,),
                 "2D point clouds coloured by class, with optional arrows; clickable views take clicks."),
        ViewKind("image_grid", _W + "image_grid:ImageGridView", (ImageGrid,),
                 "A batch of images tiled into a grid."),
        ViewKind("histogram", _W + "histogram:HistogramView", (Histogram,),
                 "Overlaid histograms sharing one set of bins."),
        ViewKind("frames", _W + "frames:FramesView", (FrameSequence,),
                 "A sequence of image or point frames with a scrubber and play button."),
        ViewKind("field", _W + "field:FieldView", (Field2D,),
                 "A scalar field over the plane as a heatmap, with points and arrows on top."),
        ViewKind("bars", _W + "bars:BarsView", (Bars,),
                 "One bar per label, e.g. KL per latent dimension or codebook usage."),
        ViewKind("theory", _W + "theory:TheoryView", (),
                 "The model's key equations and explanation (rich text)."),
    ]
