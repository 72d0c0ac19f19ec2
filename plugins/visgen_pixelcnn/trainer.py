"""Training step, raster-order sampler and views of the PixelCNN plugin."""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from visgen import Bars, FrameSequence, ImageGrid, ParamError, Trainer, chw_to_hwc, tile, to_numpy
from visgen.nn import BatchSampler, evaluating, set_lr

from .model import build, to_grey, log_density, quantise

N_ANIMATED = 16          # images the sampling animation draws (a 4 x 4 tile)
MAX_PIXEL_FRAMES = 256   # up to this many pixels: one frame per pixel; beyond, one per row
UNFILLED = (0.30, 0.42, 0.78)   # colour of a pixel the sampler has not drawn yet
N_SUMMARY = 2000
N_TIMED = 8        # images the sample-time view draws and times


class PixelCNNTrainer(Trainer):
    """Adam on the cross-entropy of the levels: the exact negative log-likelihood."""

    likelihood = "exact"

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        self.K = int(p["levels"])
        self.shape = tuple(data.x.shape[1:])                     # (C, H, W)
        self.D = int(np.prod(self.shape))
        self.conditional = bool(p["conditional"]) and data.labels is not None
        self.n_classes = int(data.labels.max()) + 1 if self.conditional else 0
        if self.conditional:
            self.grid_columns = self.n_classes
            counts = np.bincount(data.labels, minlength=self.n_classes).astype(np.float64)
            self.log_prior = torch.as_tensor(np.log(np.maximum(counts, 1e-12) / counts.sum()),
                                             dtype=torch.float32, device=self.device)
        if p["arch"] == "gated" and self.shape[0] != 1:
            raise ParamError(f"arch: the gated stack is written for single-channel images; "
                             f"{data.name} has {self.shape[0]} channels (use arch=plain)")
        self.model = build(p["arch"], self.shape[0], self.K, p["channels"], p["layers"], self.n_classes).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p["lr"])
        self.data = BatchSampler(data.x, data.labels, self.device)
        gen = torch.Generator().manual_seed(ctx.seed)
        idx = torch.randperm(len(data), generator=gen)
        self.view_idx = idx[:N_SUMMARY].to(self.device)
        self.probe_x = self.data.x[idx[:1].to(self.device)]       # the fixed image of the probe views
        self.probe_y = None if not self.conditional else self.data.labels[idx[:1].to(self.device)]
        self.view_seed = ctx.seed + 1

    def set_params(self, changed):
        super().set_params(changed)
        set_lr(self.opt, self.params["lr"])

    # -- training ----------------------------------------------------------------------------
    def nll(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """-log P(levels of x) per image in nats (conditional on y where the model is)."""
        return -self.model.log_prob_levels(quantise(x, self.K), y if self.conditional else None)

    def step(self, phase=None):
        x, y = self.data.batch(self.params["batch_size"])
        nll = self.nll(x, y).mean()
        self.opt.zero_grad(set_to_none=True)
        nll.backward()
        self.opt.step()
        nats = nll.item()
        return {"nll": nats, "levels_bits_per_dim": nats / (self.D * math.log(2))}

    # -- likelihood and sampling ---------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, x):
        """Exact log p(x) per example in nats, as a density on [0, 1]^D: log P(levels) + D log K.
        A class-conditional model is marginalised over the classes: log sum_y p(y) P(levels | y)."""
        lv = quantise(x, self.K)
        if not self.conditional:
            logp = self.model.log_prob_levels(lv)
        else:
            per_class = torch.stack([self.model.log_prob_levels(lv, torch.full((len(x),), c, device=x.device))
                                     for c in range(self.n_classes)], 1)
            logp = torch.logsumexp(per_class + self.log_prior, 1)
        return log_density(logp, self.D, self.K)

    def labels_for(self, n: int) -> Optional[torch.Tensor]:
        """Class labels for n samples: one class per grid column (None when unconditional)."""
        if not self.conditional:
            return None
        return torch.arange(n, device=self.device) % self.n_classes

    @torch.no_grad()
    def draw(self, n: int, gen: Optional[torch.Generator] = None, y: Optional[torch.Tensor] = None,
             on_pixel=None) -> torch.Tensor:
        """Levels (n, C, H, W) drawn in raster order (row by row, left to right, colour by
        colour): one network pass per dimension, D in all. ``on_pixel(k, levels, known)`` is
        called after the k-th dimension is drawn (``known``: bool mask of drawn dimensions)."""
        C, H, W = self.shape
        lv = torch.zeros(n, C, H, W, dtype=torch.long, device=self.device)
        known = torch.zeros(C, H, W, dtype=torch.bool, device=self.device)
        k = 0
        for i in range(H):
            for j in range(W):
                for c in range(C):
                    probs = F.softmax(self.model(lv, y)[:, c, :, i, j], dim=1)   # one pass per pixel
                    u = torch.rand(n, 1, generator=gen, device="cpu").to(self.device)
                    # inverse-CDF draw: a Generator on the CPU keeps it reproducible on any device
                    lv[:, c, i, j] = (probs.cumsum(1) < u).sum(1).clamp(max=self.K - 1)
                    known[c, i, j] = True
                    k += 1
                    if on_pixel is not None:
                        on_pixel(k, lv, known)
        return lv

    @torch.no_grad()
    def sample(self, n):
        with evaluating(self.model):
            lv = self.draw(n, y=self.labels_for(n))
        return to_numpy(to_grey(lv, self.K))

    @torch.no_grad()
    def view_sample_time(self):
        """Milliseconds per image: raster-order sampling (D network passes) against one pass of
        the same network, which is what a flow's one-pass sampler costs with a net this size."""
        n, y = N_TIMED, self.labels_for(N_TIMED)
        t0 = time.perf_counter()
        self.draw(n, gen=self._gen(), y=y)
        t_draw = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        self.model(torch.zeros(n, *self.shape, dtype=torch.long, device=self.device), y)
        t_pass = (time.perf_counter() - t0) / n
        return Bars([f"one pass: {1e3 * t_pass:.2g} ms", f"{self.D} passes: {1e3 * t_draw:.2g} ms ({t_draw / t_pass:.0f}x)"],
                    [1e3 * t_pass, 1e3 * t_draw], y_label="ms per image")

    def summary(self):
        """Exact NLL on up to 2,000 training points, of the K levels themselves: nats and bits per
        dimension (the runtime's held-out ``bits_per_dim`` uses the 8-bit convention instead)."""
        with self.evaluation():
            x = self.data.x[self.view_idx]
            y = None if not self.conditional else self.data.labels[self.view_idx]
            nats = self.nll(x, y).mean().item()
        return {"train_levels_nll_nats": nats, "train_levels_bits_per_dim": nats / (self.D * math.log(2))}

    # -- views -----------------------------------------------------------------------------------
    def _gen(self) -> torch.Generator:
        """The same random numbers at every call: the views change only by training."""
        return torch.Generator().manual_seed(self.view_seed)

    def _rgb(self, lv: torch.Tensor, known: Optional[torch.Tensor] = None) -> np.ndarray:
        """Levels (n, C, H, W) -> (n, H, W, 3) in [0, 1], undrawn pixels in UNFILLED."""
        img = chw_to_hwc(to_numpy(to_grey(lv, self.K)))
        if img.ndim == 3:
            img = np.repeat(img[..., None], 3, axis=-1)
        if known is not None:
            todo = ~to_numpy(known.all(0).float()).astype(bool)       # (H, W): a pixel not fully drawn
            img[:, todo] = UNFILLED
        return img

    def view_sampling(self):
        """A fixed batch drawn pixel by pixel, one frame per pixel (per row for large images)."""
        C, H, W = self.shape
        per_pixel = H * W <= MAX_PIXEL_FRAMES
        n = N_ANIMATED if self.conditional is False else max(N_ANIMATED, self.n_classes)
        nrow = 4 if not self.conditional else self.n_classes
        frames, labels = [], []

        def record(k, lv, known):
            if k % C:
                return
            pixel = k // C
            if per_pixel or pixel % W == 0:
                frames.append(tile(self._rgb(lv, known), nrow=nrow, pad_value=1.0))
                labels.append(f"pixel {pixel}/{H * W}" if per_pixel else f"row {pixel // W}/{H}")

        lv0 = torch.zeros(n, *self.shape, dtype=torch.long, device=self.device)
        frames.append(tile(self._rgb(lv0, torch.zeros(self.shape, dtype=torch.bool)), nrow=nrow, pad_value=1.0))
        labels.append(f"pixel 0/{H * W}" if per_pixel else f"row 0/{H}")
        self.draw(n, self._gen(), self.labels_for(n), on_pixel=record)
        return FrameSequence(labels, images=np.stack(frames), initial=-1, values=list(range(len(frames))))

    def view_samples(self):
        n = 64 if not self.conditional else 4 * self.n_classes
        lv = self.draw(n, self._gen(), self.labels_for(n))
        title = f"{self.D} network passes, one per pixel; K = {self.K} levels"
        if self.conditional:
            title += "; column = class"
        return ImageGrid.from_chw(to_numpy(to_grey(lv, self.K)),
                                  nrow=self.n_classes if self.conditional else 8, title=title)

    def probe_pixel(self) -> tuple[int, int]:
        """(row, col) of the probed pixel, clamped to the image; -1 picks the middle row and a column
        near the left edge, where the plain stack's blind spot (up and to the right) shows."""
        _, H, W = self.shape
        r, c = self.params["probe_row"], self.params["probe_col"]
        r = H // 2 if r < 0 else min(r, H - 1)
        c = W // 8 if c < 0 else min(c, W - 1)
        return r, c

    def influence(self, r: int, c: int, n: int = 8) -> torch.Tensor:
        """(H, W): summed |d logits at (r, c) / d input| over a batch of random level images.
        Exactly zero where a pixel cannot influence (r, c): the masks' weights are exact zeros."""
        gen = self._gen()
        lv = torch.randint(0, self.K, (n, *self.shape), generator=gen).to(self.device)
        with torch.enable_grad():
            x = self.model.scale(lv).requires_grad_(True)
            out = self.model.logits_from_input(x, self.labels_for(n))[:, :, r, c].sum()
            (grad,) = torch.autograd.grad(out, x)   # leaves the parameters' .grad alone
        return grad.abs().sum((0, 1))

    def view_receptive_field(self):
        """Left: |gradient| of the logits at the probed pixel w.r.t. every input pixel. Right:
        which earlier pixels reach it (green), which cannot (red: the blind spot), the pixel (yellow)."""
        _, H, W = self.shape
        r, c = self.probe_pixel()
        g = to_numpy(self.influence(r, c))
        heat = g / g.max() if g.max() > 0 else g
        left = np.stack([heat, heat * 0.6, np.zeros_like(heat)], -1)
        left[r, c] = (0.2, 0.8, 1.0)
        order = np.arange(H * W).reshape(H, W)
        earlier = order < r * W + c
        reach = g > 0
        right = np.full((H, W, 3), 0.15, dtype=np.float32)               # later pixels: dark
        right[earlier & reach] = (0.2, 0.75, 0.3)
        right[earlier & ~reach] = (0.85, 0.2, 0.2)
        right[r, c] = (1.0, 0.85, 0.1)
        blind = int((earlier & ~reach).sum())
        return ImageGrid(np.stack([left, right]), nrow=2, captions=["|∂ logits / ∂ input|", "reach"],
                         title=f"pixel ({r}, {c}): {int((earlier & reach).sum())} of {int(earlier.sum())} "
                               f"earlier pixels reach it; red: {blind} it cannot see (blind spot)")

    def view_distribution(self):
        """P(level | pixels before) at the probed pixel of a fixed training image."""
        r, c = self.probe_pixel()
        lv = quantise(self.probe_x, self.K)
        probs = F.softmax(self.model(lv, self.probe_y)[0, 0, :, r, c], dim=0)
        true = int(lv[0, 0, r, c])
        labels = [str(k) for k in range(self.K)]
        marked = np.arange(self.K) == true
        return Bars(labels, to_numpy(probs), y_max=1.0, marked=marked,
                    y_label=f"P(level) at ({r}, {c}); marked: the image's level {true}")

    def view_probe_image(self):
        """The fixed image of the distribution view, levels above the probe drawn, the rest hidden."""
        _, H, W = self.shape
        r, c = self.probe_pixel()
        lv = quantise(self.probe_x, self.K)
        known = torch.zeros(self.shape, dtype=torch.bool)
        known.view(self.shape[0], -1)[:, :r * W + c] = True
        img = self._rgb(lv, known)
        img[0, r, c] = (1.0, 0.85, 0.1)
        return ImageGrid(img, nrow=1, title=f"the model sees the pixels before ({r}, {c}) (yellow)")
