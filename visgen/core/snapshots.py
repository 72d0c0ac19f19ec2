"""Typed snapshots: what a trainer hands to a view.

Every snapshot holds plain numpy arrays that the trainer will never touch again
(copies, not views of live tensors), so the GUI thread may read them while
training goes on. Scalars are not snapshots: they travel in a bounded buffer
(see ``visgen.core.streams``); everything here is "latest value wins".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


@dataclass
class Snapshot:
    """Base class. The runtime stamps ``step`` (the training step it was taken at),
    ``taken_at`` (``time.monotonic()`` then) and ``cost`` (seconds it took); a view
    shows how old its picture is from them.

    ``preview`` is set by a trainer that drew a cheaper picture while training
    (see ``Trainer.previewing``): one short phrase saying how it differs from the
    full one, e.g. "preview: 50 DDIM steps (pause for all 1,000)".
    """

    step: int = field(default=0, kw_only=True)
    taken_at: float = field(default=0.0, kw_only=True)
    cost: float = field(default=0.0, kw_only=True)
    preview: str = field(default="", kw_only=True)


@dataclass
class PointSet:
    """One named cloud of 2D points, optionally labelled by class or mixture component.

    ``labels`` are small non-negative ints indexing ``class_names`` (and the colour
    palette); ``color`` is an RGB(A) tuple used when there are no labels.
    ``polyline`` > 0 joins each run of that many consecutive points into one line
    and draws lines instead of dots (a warped grid: one run per grid line).
    """

    name: str
    xy: np.ndarray
    labels: Optional[np.ndarray] = None
    class_names: Optional[Sequence[str]] = None
    color: Optional[tuple] = None
    size: float = 5.0
    polyline: int = 0

    def __post_init__(self):
        self.xy = _f32(self.xy).reshape(-1, 2)
        if self.labels is not None:
            self.labels = np.ascontiguousarray(np.asarray(self.labels, dtype=np.int64)).reshape(-1)
            if len(self.labels) != len(self.xy):
                raise ValueError(f"{self.name}: {len(self.labels)} labels for {len(self.xy)} points")


@dataclass
class Vectors:
    """Arrows drawn from ``origins`` along ``directions`` (both (N, 2))."""

    name: str
    origins: np.ndarray
    directions: np.ndarray
    color: Optional[tuple] = None

    def __post_init__(self):
        self.origins = _f32(self.origins).reshape(-1, 2)
        self.directions = _f32(self.directions).reshape(-1, 2)


@dataclass
class Scatter(Snapshot):
    """One or more point clouds in a plane (latent space, data vs samples).

    ``bounds`` = ((xmin, xmax), (ymin, ymax)) states the range to show; without it
    the view fits nearly all points of this snapshot (a few far outliers left out).
    """

    series: list[PointSet]
    x_label: str = ""
    y_label: str = ""
    vectors: list[Vectors] = field(default_factory=list)
    bounds: Optional[tuple] = None  # ((xmin, xmax), (ymin, ymax))


@dataclass
class HistogramSeries:
    """Raw values of one series; the view bins all series of a snapshot together."""

    name: str
    values: np.ndarray
    color: Optional[tuple] = None

    def __post_init__(self):
        self.values = _f32(self.values).reshape(-1)


@dataclass
class Histogram(Snapshot):
    """Overlaid histograms, e.g. D(x) on real data against D(G(z)) on fakes."""

    series: list[HistogramSeries]
    bins: int = 40
    range: Optional[tuple[float, float]] = None
    x_label: str = ""


@dataclass
class ImageGrid(Snapshot):
    """A batch of images shown as a grid.

    ``images`` is (N, H, W) greyscale or (N, H, W, 3) RGB, float in [0, 1].
    ``nrow`` is the number of images per row (default: about square).
    """

    images: np.ndarray
    nrow: Optional[int] = None
    captions: Optional[Sequence[str]] = None
    title: str = ""

    def __post_init__(self):
        self.images = np.clip(_f32(self.images), 0.0, 1.0)
        if self.images.ndim not in (3, 4):
            raise ValueError(f"ImageGrid wants (N,H,W) or (N,H,W,3), got shape {self.images.shape}")

    @classmethod
    def from_chw(cls, images, **kwargs) -> "ImageGrid":
        """Build from a torch-style (N, C, H, W) batch with C = 1 or 3."""
        x = np.asarray(images)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"from_chw wants (N, 1|3, H, W), got shape {x.shape}")
        from .imaging import chw_to_hwc
        return cls(chw_to_hwc(x), **kwargs)


@dataclass
class FrameSequence(Snapshot):
    """An ordered sequence of frames with a scrubber and play button.

    Either ``images`` (T, H, W) / (T, H, W, 3) in [0, 1] - each frame usually a
    tiled grid - or ``points`` (T, N, 2) for point clouds moving in the plane.
    ``labels`` names each frame (e.g. "t = 999"). ``initial`` is the frame a view
    shows first (negative counts from the end; default: the last frame).
    ``values`` gives each frame a number (its timestep): a view declared with
    ``ViewDecl.scrub_param`` sets that live parameter to it when the learner scrubs.
    ``bounds`` = ((xmin, xmax), (ymin, ymax)) states the range of point frames;
    without it the view fits nearly all points of all frames, one range for the
    whole sequence so that scrubbing never rescales. ``polyline`` > 0 draws each
    run of that many consecutive points as one line (a warped grid), coloured by
    the ``point_labels`` of its first point, as for ``PointSet``.
    """

    labels: Sequence[str]
    images: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    point_labels: Optional[np.ndarray] = None
    initial: int = -1
    values: Optional[Sequence[int]] = None
    bounds: Optional[tuple] = None  # ((xmin, xmax), (ymin, ymax))
    polyline: int = 0

    def __post_init__(self):
        if (self.images is None) == (self.points is None):
            raise ValueError("FrameSequence needs exactly one of images or points")
        if self.polyline and (self.points is None or self.points.shape[1] % self.polyline):
            raise ValueError(f"polyline {self.polyline}: point frames must hold whole runs of that many points")
        if self.images is not None:
            self.images = np.clip(_f32(self.images), 0.0, 1.0)
        if self.points is not None:
            self.points = _f32(self.points)
        n = len(self.images if self.images is not None else self.points)
        if len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} labels for {n} frames")
        if self.values is not None and len(self.values) != n:
            raise ValueError(f"{len(self.values)} values for {n} frames")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Field2D(Snapshot):
    """A scalar field over a rectangle (a heatmap) with optional points and arrows on top.

    ``values`` is (H, W), row 0 at ``ymin``; ``extent`` is (xmin, xmax, ymin, ymax),
    also the range the view shows.
    ``colormap`` names a pyqtgraph colour map (e.g. ``"CET-D1"``, diverging, for a
    discriminator's 0..1 output).
    """

    values: np.ndarray
    extent: tuple[float, float, float, float]
    levels: Optional[tuple[float, float]] = None
    colormap: str = "viridis"
    points: list[PointSet] = field(default_factory=list)
    vectors: list[Vectors] = field(default_factory=list)
    value_label: str = ""

    def __post_init__(self):
        self.values = _f32(self.values)
        if self.values.ndim != 2:
            raise ValueError(f"Field2D wants a 2D array, got shape {self.values.shape}")


@dataclass
class Bars(Snapshot):
    """One bar per label (e.g. KL per latent dimension, codebook usage).

    ``y_max``: the value axis reaches at least this high however small the bars
    are (a floor, or the run's running maximum), so bars that shrink are seen to
    shrink instead of the axis rescaling to hide it. ``marked`` flags bars to draw
    in a second colour (e.g. collapsed latent dimensions); ``threshold`` is a
    horizontal reference line (e.g. the KL below which a dimension counts as
    collapsed).
    """

    labels: Sequence[str]
    values: np.ndarray
    y_label: str = ""
    y_max: Optional[float] = None
    marked: Optional[np.ndarray] = None
    threshold: Optional[float] = None

    def __post_init__(self):
        self.values = _f32(self.values).reshape(-1)
        if len(self.labels) != len(self.values):
            raise ValueError(f"{len(self.labels)} labels for {len(self.values)} bars")
        if self.marked is not None:
            self.marked = np.ascontiguousarray(np.asarray(self.marked, dtype=bool)).reshape(-1)
            if len(self.marked) != len(self.values):
                raise ValueError(f"{len(self.marked)} marks for {len(self.values)} bars")


@dataclass
class Curves(Snapshot):
    """Named curves over a shared x axis (e.g. a noise schedule against t)."""

    x: np.ndarray
    ys: dict[str, np.ndarray]
    x_label: str = ""
    log_y: bool = False

    def __post_init__(self):
        self.x = _f32(self.x).reshape(-1)
        self.ys = {k: _f32(v).reshape(-1) for k, v in self.ys.items()}


@dataclass
class ViewProblem(Snapshot):
    """Put in a view's slot by the runtime (never by a trainer) when taking the view
    failed: the trainer raised inside it, or returned a snapshot its view kind cannot
    draw. The dock shows ``message`` once; training goes on, and the view is asked
    again only after a parameter change, a Reset or a Load. ``info``: not a failure but
    the reason the view has nothing to show for this model (a GAN's likelihood), said
    plainly rather than as an error."""

    message: str
    info: bool = False
