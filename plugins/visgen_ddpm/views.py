"""What the diffusion plugin shows: every ``view_<id>`` of the spec's VIEWS.

The runtime finds a view as the trainer's method ``view_<id>`` and calls it without
gradients, so ``DDPMTrainer`` inherits them from ``DiffusionViews``. The views only
read the trainer: its schedule ``sched``, data ``data`` (scaled by ``scale``) and the
sampling methods ``run_sampler``, ``eps_model``, ``labels_for``, ``timesteps`` and ``to_data``.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from visgen import (Bars, Curves, Field2D, FrameSequence, ImageGrid, PointSet, Scatter, Vectors, chw_to_hwc,
                    mode_coverage, tile, to_numpy)

BUCKETS = 10            # loss-per-timestep histogram
PREVIEW_STEPS = 50      # sampler steps while training (see DDPMTrainer.view_sampler)
TIMING_STEPS = 10       # steps a sampler is timed on while training (each step is one network call)
PREVIEW_POINTS = 250    # 2D points the reverse process follows while training (500 when paused)
MAX_FRAMES = 200        # frames of the forward process (every t when T is small)


class DiffusionViews:
    """Views of a diffusion trainer, and the fixed inputs that keep them comparable step to step."""

    def init_views(self, seed: int) -> None:
        """Fixed data, noise and points so that successive snapshots differ only by training."""
        gen = torch.Generator().manual_seed(seed)
        self.view_x0 = self.data.sample(16)[0].clone()
        self.fixed_noise = torch.randn(64, *self.space_shape, generator=gen).to(self.device)
        self.fixed_points = torch.randn(500, *self.space_shape, generator=gen).to(self.device)
        self.view_idx = torch.randperm(len(self.data), generator=gen)[:2000].to(self.device)
        self.bucket_loss = np.full(BUCKETS, np.nan)

    def track_loss_by_t(self, t: torch.Tensor, err: torch.Tensor) -> None:
        """Per-bucket moving average of the per-sample loss ``err`` at timesteps ``t``, as if each
        sample were an EMA step of 0.02 (vectorised: a Python loop over the batch would sit in
        the training hot path)."""
        buckets, err = (t * BUCKETS // self.sched.T).cpu().numpy(), err.detach().cpu().numpy()
        count = np.bincount(buckets, minlength=BUCKETS)
        seen = count > 0
        mean = np.bincount(buckets, weights=err, minlength=BUCKETS)[seen] / count[seen]
        keep = 0.98 ** count[seen]
        old = self.bucket_loss[seen]
        self.bucket_loss[seen] = np.where(np.isnan(old), mean, keep * old + (1 - keep) * mean)

    # -- the forward process -----------------------------------------------------------------
    def _frame_ts(self):
        T = self.sched.T
        return sorted(set(torch.linspace(0, T - 1, min(T, MAX_FRAMES)).round().long().tolist()))

    def _q_sample_at(self, x0, t: int, eps):
        """x_t for a whole batch at one timestep t."""
        return self.sched.q_sample(x0, torch.full((len(x0),), t, device=self.device), eps)

    def _grid(self, x, nrow=8):
        return tile(chw_to_hwc(self.to_data(x)), nrow=nrow, pad_value=0.5)

    def view_forward(self):
        """q(x_t | x_0) for a fixed batch at every (or every k-th) t, with fixed noise."""
        ts = self._frame_ts()
        labels = [f"t = {t}   ᾱ = {self.sched.alpha_bar[t].item():.3f}" for t in ts]
        if self.images:
            x0, eps = self.view_x0, self.fixed_noise[:len(self.view_x0)]
            frames = [self._grid(self._q_sample_at(x0, t, eps), 4) for t in ts]
            return FrameSequence(labels, images=np.stack(frames), initial=0, values=ts)
        idx = self.view_idx[:len(self.fixed_points)]
        eps = self.fixed_points[:len(idx)]  # small data sets have fewer points than the fixed noise
        x0 = self.data.x[idx]
        frames = [to_numpy(self._q_sample_at(x0, t, eps) * self.scale) for t in ts]
        lab = None if self.data.labels is None else to_numpy(self.data.labels[idx]).astype(int)
        return FrameSequence(labels, points=np.stack(frames), point_labels=lab, initial=0, values=ts)

    def view_forward_strip(self):
        """8 training images (rows) at 10 timesteps (columns) from t = 0 to T - 1."""
        ts = torch.linspace(0, self.sched.T - 1, 10).round().long().tolist()
        x0 = self.view_x0[:8]
        x = torch.stack([self._q_sample_at(x0, t, self.fixed_noise[:8]) for t in ts], 1).flatten(0, 1)
        return ImageGrid.from_chw(self.to_data(x), nrow=10, title="columns: t = " + ", ".join(map(str, ts)))

    def view_schedule(self):
        s = self.sched
        return Curves(np.arange(s.T), {"beta_t": to_numpy(s.betas), "alpha_bar_t": to_numpy(s.alpha_bar),
                                       "SNR_t": to_numpy(s.snr)}, x_label="t", log_y=True)

    # -- the reverse process -----------------------------------------------------------------
    def view_reverse(self):
        """The current model denoising fixed noise, frame by frame (with the chosen sampler)."""
        preview = self.preview_note()
        if self.images:
            _, frames = self.run_sampler(x_T=self.fixed_noise[:16], record=40, preview=True)
            return FrameSequence(self._frame_labels(frames), images=np.stack([self._grid(x, 4) for _, x in frames]),
                                 preview=preview)
        x_T = self.fixed_points[:PREVIEW_POINTS] if preview else self.fixed_points
        _, frames = self.run_sampler(x_T=x_T, record=40, preview=True)
        if preview:
            preview += f", {len(x_T)} of {len(self.fixed_points)} points"
        return FrameSequence(self._frame_labels(frames), points=np.stack([to_numpy(x * self.scale) for _, x in frames]),
                             preview=preview)

    def _frame_labels(self, frames) -> list[str]:
        sampler = self.view_sampler()[0]
        return [f"t = {t}   ({sampler}, {len(self.timesteps(preview=True))} steps)" for t, _ in frames]

    def timesteps_text(self) -> str:
        """The views' sampler and the timesteps it visits, shortened: 'ddim, 10 steps: t = 99, 88, ..., 0'."""
        ts = self.timesteps(preview=True)
        shown = ts if len(ts) <= 8 else ts[:4] + ["…"] + ts[-3:]
        return f"{self.view_sampler()[0]}, {len(ts)} steps: t = " + ", ".join(map(str, shown))

    def view_samples(self):
        x, _ = self.run_sampler(x_T=self.fixed_noise[:min(64, max(40, 4 * self.n_classes))] if self.conditional
                                else self.fixed_noise, preview=True)
        title = self.timesteps_text()
        if self.conditional:
            title += f", guidance w = {self.params['guidance']:g}; column = class"
        return ImageGrid.from_chw(self.to_data(x), nrow=self.n_classes if self.conditional else 8, title=title,
                                  preview=self.preview_note())

    def view_samples2d(self):
        x, _ = self.run_sampler(x_T=self.fixed_points, preview=True)
        lab = to_numpy(self.labels_for(len(x))).astype(int) if self.conditional else None
        data = to_numpy(self.data.x[self.view_idx] * self.scale)
        # Data drawn last, small and dark: dense samples on a mode would otherwise hide it.
        return Scatter([PointSet("samples", self.to_data(x), lab, self.dataset.class_names,
                                 color=None if lab is not None else (214, 39, 40), size=4),
                        PointSet("data", data, color=(60, 60, 60), size=2)],
                       x_label="x1", y_label="x2", preview=self.preview_note())

    def view_sampler_compare(self):
        """Time per sample for DDPM (T steps) and DDIM (sample_steps), with coverage on mixtures.

        While training (a preview) each sampler is timed on its first TIMING_STEPS steps and
        scaled (every step costs one network call), and quality waits for a pause: the samples
        view shows the model's current quality meanwhile."""
        n = 500 if not self.images else 16
        labels, times = [], []
        T, ddim_steps = self.sched.T, self.params["sample_steps"]
        for name, steps in (("ddpm", T), ("ddim", ddim_steps)):
            estimate = self.previewing and steps > TIMING_STEPS
            run_steps = TIMING_STEPS if estimate else steps
            t0 = time.perf_counter()
            x, _ = self.run_sampler(n, sampler="ddim" if estimate else name, steps=run_steps,
                                    eta=1.0 if estimate else None)
            per = (time.perf_counter() - t0) / n * steps / run_steps
            label = f"{name.upper()} {steps} steps"
            if estimate:
                label += f"\ntime from {run_steps} steps; quality when paused"
            elif not self.images and self.dataset.mixture is not None:
                mix = self.dataset.mixture
                cov = mode_coverage(self.to_data(x), mix.centers, mix.std)
                label += f"\n{cov['modes_covered']} modes, HQ {cov['high_quality']:.2f}"
            labels.append(label)
            times.append(per * 1e3)
        preview = f"preview while training: timed on {TIMING_STEPS} steps each, quality measured when paused"
        return Bars(labels, np.array(times), y_label="ms per sample",
                    preview=preview if self.previewing and max(T, ddim_steps) > TIMING_STEPS else "")

    # -- the network -------------------------------------------------------------------------
    def view_loss_by_t(self):
        edges = -(-np.arange(BUCKETS + 1) * self.sched.T // BUCKETS)  # bucket k starts at ceil(k T / 10)
        return Bars([f"{a}" for a in edges[:-1]], np.nan_to_num(self.bucket_loss),
                    y_label=f"loss (EMA) for t in [label, label + {edges[1]})")

    def view_field(self, res: int = 24):
        """The predicted noise at t = field_t over the plane: arrows point along -eps (towards data)."""
        t = min(self.params["field_t"], self.sched.T - 1)
        data = self.data.x[self.view_idx]
        lo, hi = data.min(0).values - 0.5, data.max(0).values + 0.5
        gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], res, device=self.device),
                                torch.linspace(lo[1], hi[1], res, device=self.device), indexing="xy")
        grid = torch.stack([gx.flatten(), gy.flatten()], 1)
        tt = torch.full((len(grid),), t, device=self.device)
        eps = self.eps_model(self.labels_for(len(grid)))(grid, tt)
        mag = eps.norm(dim=1).view(res, res)
        step = 0.8 * float((hi - lo).max()) / res / (eps.norm(dim=1).max().item() + 1e-9)
        s = self.scale
        return Field2D(to_numpy(mag), tuple(float(v) * s for v in (lo[0], hi[0], lo[1], hi[1])),
                       points=[PointSet("data", to_numpy(data * s), color=(90, 90, 90), size=3)],
                       vectors=[Vectors("-eps (towards data)", to_numpy(grid * s), to_numpy(-eps * step * s),
                                        color=(255, 255, 255))],
                       value_label=f"|eps| at t = {t}")
