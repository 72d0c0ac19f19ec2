"""Training step and views of the RealNVP plugin."""
from __future__ import annotations

import math

import numpy as np
import torch

from visgen import Field2D, FrameSequence, ImageGrid, PointSet, Scatter, Trainer, to_numpy
from visgen.nn import BatchSampler, dequantise, evaluating, set_lr

from .model import image_flow, points_flow

GRID_LINES = 13         # lines of the z grid in each direction
GRID_POINTS = 81        # points along each line (dense enough to read as a line)
GRID_RANGE = 3.0        # the z grid covers [-3, 3]^2: 3 standard deviations of the base
FIELD_RES = 96          # heatmap resolution
TEMPERATURES = (0.5, 0.7, 0.85, 1.0)  # sampling temperatures shown side by side (Glow used 0.7)
N_VIEW_POINTS = 1000
LOGP_FLOOR = 12.0       # nats: the heatmap shows log p down to its maximum minus this
ALPHA = 0.05            # logit transform of images: y = logit(ALPHA + (1 - 2 ALPHA) x)

DATA_GREY = (70, 70, 70)
SAMPLE_RED = (214, 39, 40)
PATH_WHITE = (255, 255, 255)
Z_BLUE = (31, 119, 180)
LINE_ORANGE = (255, 127, 14)


class FlowTrainer(Trainer):
    """Adam on the exact negative log-likelihood -log p(x) (nats per example)."""

    likelihood = "exact"

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        self.images = data.kind == "images"
        if self.images:
            self.likelihood = "bound"  # dequantised: a lower bound on the discrete image's likelihood
        if self.images:
            self.shape = tuple(data.x.shape[1:])
            self.flow = image_flow(self.shape, p["layers"], p["hidden"], p["actnorm"],
                                   conv1x1=p["conv1x1"]).to(self.device)
        else:
            self.flow = points_flow(p["layers"], p["hidden"], p["actnorm"]).to(self.device)
        self.opt = torch.optim.Adam(self.flow.parameters(), lr=p["lr"])
        self.data = BatchSampler(data.x, data.labels, self.device)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.view_idx = torch.randperm(len(data), generator=gen)[:N_VIEW_POINTS].to(self.device)
        self.levels = 256  # pixels are taken as 8-bit: dequantised over bins of width 1/256
        if self.images:
            self.fixed_z = torch.randn(64, *self.shape, generator=gen).to(self.device)
        else:
            self.fixed_z = torch.randn(N_VIEW_POINTS, 2, generator=gen).to(self.device)
            x = data.x.astype(np.float64)
            lo, hi = x.min(0) - 0.75, x.max(0) + 0.75
            self.extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
        self.clicked = None  # (x, y) of the last click, in data space

    def set_params(self, changed):
        super().set_params(changed)
        set_lr(self.opt, self.params["lr"])

    # -- the density ---------------------------------------------------------------
    def _to_flow_space(self, x: torch.Tensor):
        """(y, log|dy/dx|): images to logit space (the flow models y); points as they are."""
        if not self.images:
            return x, torch.zeros(len(x), device=x.device)
        p = ALPHA + (1 - 2 * ALPHA) * x
        y = torch.log(p) - torch.log1p(-p)
        # dy/dx = (1 - 2 ALPHA) / (p (1 - p)) per pixel
        logdet = (math.log(1 - 2 * ALPHA) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return y, logdet

    def _from_flow_space(self, y: torch.Tensor) -> torch.Tensor:
        if not self.images:
            return y
        return ((torch.sigmoid(y) - ALPHA) / (1 - 2 * ALPHA)).clamp(0, 1)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats per example, in the data's own units: exact on points. On images the
        dequantisation bound log p(x + u), u uniform over the pixel's bin, a lower bound on the
        log-probability of the 8-bit image plus D log 256 (one fixed draw of u, so repeatable)."""
        if self.images:
            x = dequantise(x, self.levels, seed=0)
        y, ld_in = self._to_flow_space(x)
        logp, _, _ = self.flow.log_prob(y)
        return logp + ld_in

    # -- training ------------------------------------------------------------------
    def step(self, phase=None):
        x, _ = self.data.batch(self.params["batch_size"])
        if self.images:
            x = dequantise(x, self.levels)
        y, ld_in = self._to_flow_space(x)
        logp, log_pz, logdet = self.flow.log_prob(y)
        loss = -(logp + ld_in).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        out = {"nll": loss.item(), "log_pz": log_pz.mean().item(), "logdet": (logdet + ld_in).mean().item()}
        if self.images:
            out["bits_per_dim"] = (out["nll"] / self.dataset.dim + math.log(256)) / math.log(2)
        return out

    # -- sampling ------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n):
        z = torch.randn(n, *(self.shape if self.images else (2,)), device=self.device)
        with evaluating(self.flow):
            return to_numpy(self._from_flow_space(self.flow.inverse(z)))

    # -- views (2D) ----------------------------------------------------------------
    def _plane(self, res: int = FIELD_RES):
        xmin, xmax, ymin, ymax = self.extent
        gx, gy = torch.meshgrid(torch.linspace(xmin, xmax, res, device=self.device),
                                torch.linspace(ymin, ymax, res, device=self.device), indexing="xy")
        return torch.stack([gx.flatten(), gy.flatten()], 1)  # row 0 at ymin, as Field2D wants

    def _data_points(self, size=2.5):
        return PointSet("data", to_numpy(self.data.x[self.view_idx]), color=DATA_GREY, size=size)

    def _click_path(self):
        """The clicked x after each layer on its way to z: (K + 1, 2), x first."""
        if self.clicked is None:
            return None
        x = torch.tensor([self.clicked], dtype=torch.float32, device=self.device)
        return torch.cat(self.flow.trajectory(x)).cpu().numpy()

    def _path_series(self):
        path = self._click_path()
        if path is None:
            return []
        return [PointSet("path x → z", path, color=PATH_WHITE, size=2, polyline=len(path)),
                PointSet("layers", path[1:-1], color=PATH_WHITE, size=5),
                PointSet("clicked x", path[:1], color=LINE_ORANGE, size=11),
                PointSet("z = f(x)", path[-1:], color=Z_BLUE, size=11)]

    def view_density(self):
        logp = self.log_likelihood(self._plane()).view(FIELD_RES, FIELD_RES)
        top = float(logp.max())
        return Field2D(to_numpy(logp.clamp_min(top - LOGP_FLOOR)), self.extent, levels=(top - LOGP_FLOOR, top),
                       points=[self._data_points(), *self._path_series()],
                       value_label="log p(x) (nats)")

    def view_logdet(self):
        _, logdet = self.flow(self._plane())
        v = to_numpy(logdet.view(FIELD_RES, FIELD_RES))
        m = float(np.percentile(np.abs(v), 98)) or 1.0  # a few extreme corners must not wash out the rest
        return Field2D(v, self.extent, levels=(-m, m), colormap="CET-D1",
                       points=[self._data_points(size=2)],
                       value_label="log|det ∂f/∂x| (nats): red = f stretches area on the way to z, blue = shrinks")

    def _z_grid(self):
        """Points of a regular grid in z, line by line: horizontal lines then vertical ones."""
        t = torch.linspace(-GRID_RANGE, GRID_RANGE, GRID_POINTS, device=self.device)
        c = torch.linspace(-GRID_RANGE, GRID_RANGE, GRID_LINES, device=self.device)
        horiz = torch.stack([t.repeat(GRID_LINES), c.repeat_interleave(GRID_POINTS)], 1)
        vert = torch.stack([c.repeat_interleave(GRID_POINTS), t.repeat(GRID_LINES)], 1)
        labels = np.repeat([0, 1], GRID_LINES * GRID_POINTS)
        return torch.cat([horiz, vert]), labels

    def view_grid(self):
        """The z grid pulled back layer by layer: frame 0 is z, the last frame x = f^-1(z)."""
        z, labels = self._z_grid()
        frames = self.flow.inverse_trajectory(z)
        names = [self._layer_name(len(self.flow.layers) - 1 - k) for k in range(len(frames) - 1)]
        titles = ["z (base N(0, I))"] + [f"after undoing {n}" for n in names]
        titles[-1] += " = x"
        xmin, xmax, ymin, ymax = self.extent
        r = GRID_RANGE
        bounds = ((min(xmin, -r), max(xmax, r)), (min(ymin, -r), max(ymax, r)))
        return FrameSequence(titles, points=np.stack([to_numpy(f) for f in frames]), point_labels=labels,
                             initial=-1, bounds=bounds, polyline=GRID_POINTS)  # each grid line as a line

    def _layer_name(self, i: int) -> str:
        layer = self.flow.layers[i]
        mask = getattr(layer, "mask", None)
        if mask is None:
            return f"layer {i + 1} (actnorm)"
        kept = "x1" if float(mask[0]) == 1 else "x2"
        return f"layer {i + 1} (coupling, {kept} kept)"

    def view_path(self):
        """The data and its image z = f(x), with the clicked point's path through every layer."""
        x = self.data.x[self.view_idx]
        z, _ = self.flow(x)
        lab = None if self.data.labels is None else to_numpy(self.data.labels[self.view_idx]).astype(int)
        names = self.dataset.class_names if lab is not None else None
        series = [PointSet("data x", to_numpy(x), color=(150, 150, 150), size=3),
                  PointSet("z = f(data)", to_numpy(z), lab, names, color=Z_BLUE + (140,), size=3)]
        path = self._click_path()
        if path is not None:
            series += [PointSet("path x → z", path, color=(0, 0, 0), size=2, polyline=len(path)),
                       PointSet("after each layer", path[1:-1], color=(0, 0, 0), size=6),
                       PointSet("clicked x", path[:1], color=LINE_ORANGE, size=12),
                       PointSet("z = f(x)", path[-1:], color=(0, 0, 0), size=12)]
            # and back: the inverse, layer by layer, lands on the clicked x again
            back = to_numpy(self.flow.inverse_trajectory(torch.as_tensor(path[-1:], device=self.device))[-1])
            err = float(np.abs(back - path[:1]).max())
            series.append(PointSet(f"f⁻¹(z), back (error {err:.0e})", back, color=Z_BLUE, size=6))
        return Scatter(series, x_label="x1 / z1", y_label="x2 / z2")

    def view_samples2d(self):
        x = self.flow.inverse(self.fixed_z)
        return Scatter([PointSet("samples", to_numpy(x), color=SAMPLE_RED + (160,), size=4),
                        self._data_points(size=2)], x_label="x1", y_label="x2",
                       bounds=((self.extent[0], self.extent[1]), (self.extent[2], self.extent[3])))

    def on_click(self, view_id, x, y):
        if view_id not in ("density", "path") or self.images:
            return {}
        self.clicked = (float(x), float(y))
        return {v: s for v in ("density", "path") if (s := self.snapshot(v)) is not None}

    # -- views (images) --------------------------------------------------------------
    def view_samples(self):
        x = self._from_flow_space(self.flow.inverse(self.fixed_z))
        return ImageGrid.from_chw(to_numpy(x), nrow=8, title="x = f⁻¹(z), fixed z ~ N(0, I)")

    def view_temperatures(self):
        """The same fixed z at temperatures T: x = f^-1(T z), one row per T."""
        z = self.fixed_z[:8]
        rows = [self._from_flow_space(self.flow.inverse(t * z)) for t in TEMPERATURES]
        return ImageGrid.from_chw(to_numpy(torch.cat(rows)), nrow=8,
                                  captions=[f"T = {t:g}" if i % 8 == 0 else "" for t in TEMPERATURES for i in range(8)],
                                  title="rows: x = f⁻¹(T z) for the same z, T = " + ", ".join(f"{t:g}" for t in TEMPERATURES))

    def view_latents(self):
        """Training images, their latents z = f(x) (z / 4 + 0.5, mid-grey = 0) and f^-1(z) again."""
        x = self.data.x[self.view_idx[:24]]
        y, _ = self._to_flow_space((torch.round(x * (self.levels - 1)) + 0.5) / self.levels)
        z, _ = self.flow(y)
        back = self._from_flow_space(self.flow.inverse(z))
        err = float((self._from_flow_space(y) - back).abs().max())
        rows = [torch.cat([x[i:i + 8], (z[i:i + 8] / 4 + 0.5).clamp(0, 1), back[i:i + 8]]) for i in range(0, 24, 8)]
        return ImageGrid.from_chw(to_numpy(torch.cat(rows)), nrow=8,
                                  title=f"in threes: x, z = f(x) (grey = 0; white/black = ±2), f⁻¹(z) "
                                        f"(largest pixel error {err:.1e})")

    def summary(self):
        """Exact NLL of up to 1,000 training points (the runtime reports the held-out one)."""
        with self.evaluation():
            nll = -self.log_likelihood(self.data.x[self.view_idx]).mean().item()
        return {"train_nll_nats": nll}
