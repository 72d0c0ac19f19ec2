"""Training step, samplers and views of the diffusion plugin."""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from visgen import (Bars, Curves, Field2D, FrameSequence, ImageGrid, ParamError, PointSet, Scatter,
                    Trainer, Vectors, chw_to_hwc, mode_coverage, tile, to_numpy)
from visgen.nn import BatchSampler

from . import samplers
from .denoisers import MLPDenoiser, UNet
from .schedules import Schedule

BUCKETS = 10            # loss-per-timestep histogram
COVERAGE_EVERY = 500    # steps between mode-coverage measurements on mixtures
MAX_FRAMES = 200        # frames of the forward process (every t when T is small)


class DDPMTrainer(Trainer):
    """Denoising score matching: minimise || target - net(x_t, t, y) ||^2 with t ~ U{0..T-1}."""

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        self.images = data.kind == "images"
        self.conditional = p["conditional"]
        if self.conditional and data.labels is None:
            raise ParamError(f"conditional=true needs labelled data; {data.name} has no labels")
        self.n_classes = data.num_classes if self.conditional else 0
        self.grid_columns = self.n_classes or 8
        self.autoencoder = self._load_autoencoder(p["vae_run"]) if p["vae_run"] else None
        if self.autoencoder is not None:  # latent diffusion: diffuse the VAE's codes, decode the samples
            x = self.autoencoder.encode(data.x)
        else:  # images to [-1, 1]; points as they are
            x = data.x * 2 - 1 if self.images else data.x
        # Points and codes scaled to unit std so one schedule fits every data set.
        self.scale = 1.0 if self.images and self.autoencoder is None else float(x.std())
        self.space_shape = tuple(x.shape[1:])  # what is diffused: pixels, points or latent codes
        self.data = BatchSampler(x / self.scale, data.labels, self.device)
        self.sched = Schedule(p["schedule"], p["T"], self.device)
        pixels = self.images and self.autoencoder is None
        kind = p["denoiser"] if p["denoiser"] != "auto" else ("unet" if pixels else "mlp")
        if kind == "unet" and not pixels:
            raise ParamError("denoiser=unet needs pixel images; use denoiser=mlp for points or latent codes")
        self.net = (UNet(self.space_shape, max(8, p["hidden"] // 8), self.n_classes) if kind == "unet"
                    else MLPDenoiser(self.space_shape, p["hidden"], 3, self.n_classes)).to(self.device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)  # sampled from: smoother than the raw weights
        self.opt = torch.optim.Adam(self.net.parameters(), lr=p["lr"])
        gen = torch.Generator().manual_seed(ctx.seed)
        self.view_x0, self.view_y = self.data.batch(16)
        self.view_x0, self.view_y = self.view_x0.clone(), None if self.view_y is None else self.view_y.clone()
        self.fixed_noise = torch.randn(64, *self.space_shape, generator=gen).to(self.device)
        self.fixed_points = torch.randn(500, *self.space_shape, generator=gen).to(self.device)
        self.view_idx = torch.randperm(len(x), generator=gen)[:2000].to(self.device)
        self.bucket_loss = np.full(BUCKETS, np.nan)

    def _load_autoencoder(self, run_dir):
        """The trainer of a saved run with encode/decode (a VAE), through visgen's public API."""
        from visgen import load_run

        if not self.images:
            raise ParamError("vae_run (latent diffusion) needs image data")
        ae = load_run(run_dir, device=str(self.device)).trainer
        if not (hasattr(ae, "encode") and hasattr(ae, "decode")):
            raise ParamError(f"vae_run {run_dir}: that model has no encode/decode (train a vae run)")
        if tuple(ae.dataset.image_shape) != tuple(self.dataset.image_shape):
            raise ParamError(f"vae_run {run_dir}: trained on images of shape {ae.dataset.image_shape}, "
                             f"these are {self.dataset.image_shape}")
        return ae

    def set_params(self, changed):
        super().set_params(changed)
        for group in self.opt.param_groups:
            group["lr"] = self.params["lr"]

    # -- the objective -------------------------------------------------------------
    def target(self, x0, eps, t):
        """What the net predicts: eps, x_0, or v = sqrt(ab) eps - sqrt(1 - ab) x_0."""
        kind = self.params["prediction"]
        if kind == "eps":
            return eps
        if kind == "x0":
            return x0
        a, b = self.sched.at(self.sched.sqrt_ab, t, x0.dim()), self.sched.at(self.sched.sqrt_1m_ab, t, x0.dim())
        return a * eps - b * x0

    def to_eps(self, out, x_t, t):
        """The network's output as predicted noise, whatever it was trained to predict."""
        kind = self.params["prediction"]
        if kind == "eps":
            return out
        a, b = self.sched.at(self.sched.sqrt_ab, t, x_t.dim()), self.sched.at(self.sched.sqrt_1m_ab, t, x_t.dim())
        if kind == "x0":
            return (x_t - a * out) / b
        return b * x_t + a * out  # from v

    def step(self, phase=None):
        p = self.params
        x0, y = self.data.batch(p["batch_size"])
        t = torch.randint(0, self.sched.T, (len(x0),), device=self.device)
        eps = torch.randn_like(x0)
        x_t = self.sched.q_sample(x0, t, eps)
        if self.conditional:  # label dropout: the same net also learns the unconditional model
            drop = torch.rand(len(y), device=self.device) < p["p_uncond"]
            y = torch.where(drop, torch.full_like(y, self.n_classes), y)
        err = (self.net(x_t, t, y) - self.target(x0, eps, t)).pow(2).flatten(1).mean(1)
        loss = err.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            for e, w in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(w, 1 - p["ema"])
            self._track_buckets((t * BUCKETS // self.sched.T).cpu().numpy(), err.cpu().numpy())
        out = {"loss": loss.item()}
        if (not self.images and self.dataset.mixture is not None
                and (self.step_count + 1) % COVERAGE_EVERY == 0):
            # Deterministic DDIM keeps this check cheap whatever sampler the learner picked.
            mix = self.dataset.mixture
            x, _ = self.run_sampler(2500, sampler="ddim", steps=min(self.params["sample_steps"], 50), eta=0.0)
            cov = mode_coverage(self.to_data(x), mix.centers, mix.std)
            out.update(modes_covered=cov["modes_covered"], high_quality=cov["high_quality"])
        return out

    def _track_buckets(self, buckets: np.ndarray, err: np.ndarray) -> None:
        """Per-bucket moving average of the loss, as if each sample were an EMA step of 0.02
        (vectorised: a Python loop over the batch would sit in the training hot path)."""
        count = np.bincount(buckets, minlength=BUCKETS)
        seen = count > 0
        mean = np.bincount(buckets, weights=err, minlength=BUCKETS)[seen] / count[seen]
        keep = 0.98 ** count[seen]
        old = self.bucket_loss[seen]
        self.bucket_loss[seen] = np.where(np.isnan(old), mean, keep * old + (1 - keep) * mean)

    # -- sampling ----------------------------------------------------------------------
    def eps_model(self, labels=None, net=None):
        """eps(x_t, t), with classifier-free guidance eps_u + w (eps_c - eps_u) when conditional."""
        net = net or self.ema
        w = self.params["guidance"]

        def eps(x, t):
            if not self.conditional:
                return self.to_eps(net(x, t), x, t)
            null = torch.full_like(labels, self.n_classes)
            out = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
            e_c, e_u = self.to_eps(out, torch.cat([x, x]), torch.cat([t, t])).chunk(2)
            return e_u + w * (e_c - e_u)  # classifier-free guidance
        return eps

    def labels_for(self, n):
        return (torch.arange(n, device=self.device) % max(self.n_classes, 1)) if self.conditional else None

    def run_sampler(self, n=None, x_T=None, record=0, sampler=None, steps=None, eta=None):
        p = self.params
        n = n if x_T is None else len(x_T)
        return samplers.sample(self.eps_model(self.labels_for(n)), self.sched, (n, *self.space_shape),
                               sampler or p["sampler"], steps or p["sample_steps"],
                               p["eta"] if eta is None else eta, x_T=x_T,
                               record=record, device=self.device)

    def timesteps(self) -> list[int]:
        """The timesteps the chosen sampler visits, from T - 1 down to 0."""
        p = self.params
        return (samplers.ddpm_timesteps(self.sched.T) if p["sampler"] == "ddpm"
                else samplers.ddim_timesteps(self.sched.T, p["sample_steps"]))

    def timesteps_text(self) -> str:
        ts = self.timesteps()
        shown = ts if len(ts) <= 8 else ts[:4] + ["…"] + ts[-3:]
        return f"{self.params['sampler']}, {len(ts)} steps: t = " + ", ".join(map(str, shown))

    def to_data(self, x):
        """From the diffused space back to data: decode codes, rescale points, map pixels to [0, 1]."""
        if self.autoencoder is not None:
            return self.autoencoder.decode(to_numpy(x * self.scale))
        return to_numpy((x.clamp(-1, 1) + 1) / 2) if self.images else to_numpy(x * self.scale)

    @torch.no_grad()
    def sample(self, n):
        x, _ = self.run_sampler(n)
        return self.to_data(x)

    # -- views ---------------------------------------------------------------------------
    def _frame_ts(self):
        T = self.sched.T
        return sorted(set(torch.linspace(0, T - 1, min(T, MAX_FRAMES)).round().long().tolist()))

    def _grid(self, x, nrow=8):
        return tile(chw_to_hwc(self.to_data(x)), nrow=nrow, pad_value=0.5)

    def view_forward(self):
        """q(x_t | x_0) for a fixed batch at every (or every k-th) t, with fixed noise."""
        ts = self._frame_ts()
        x0 = self.view_x0
        eps = self.fixed_noise[:len(x0)] if self.images else self.fixed_points
        labels = [f"t = {t}   ᾱ = {self.sched.alpha_bar[t].item():.3f}" for t in ts]
        if self.images:
            frames = [self._grid(self.sched.q_sample(x0, torch.full((len(x0),), t, device=self.device), eps), 4)
                      for t in ts]
            return FrameSequence(labels, images=np.stack(frames), initial=0, values=ts)
        idx = self.view_idx[:len(eps)]
        eps = eps[:len(idx)]  # small data sets have fewer points than the fixed noise
        x0 = self.data.x[idx]
        frames = [to_numpy(self.sched.q_sample(x0, torch.full((len(x0),), t, device=self.device), eps) * self.scale)
                  for t in ts]
        lab = None if self.data.labels is None else to_numpy(self.data.labels[idx]).astype(int)
        return FrameSequence(labels, points=np.stack(frames), point_labels=lab, initial=0, values=ts)

    def view_forward_strip(self):
        """8 training images (rows) at 10 timesteps (columns) from t = 0 to T - 1."""
        ts = torch.linspace(0, self.sched.T - 1, 10).round().long().tolist()
        x0 = self.view_x0[:8]
        cols = [self.sched.q_sample(x0, torch.full((8,), t, device=self.device), self.fixed_noise[:8]) for t in ts]
        x = torch.stack(cols, 1).flatten(0, 1)
        return ImageGrid.from_chw(self.to_data(x), nrow=10, title="columns: t = " + ", ".join(map(str, ts)))

    def view_reverse(self):
        """The current model denoising fixed noise, frame by frame (with the chosen sampler)."""
        if self.images:
            x_T = self.fixed_noise[:16]
            _, frames = self.run_sampler(x_T=x_T, record=40)
            return FrameSequence(self._frame_labels(frames), images=np.stack([self._grid(x, 4) for _, x in frames]))
        _, frames = self.run_sampler(x_T=self.fixed_points, record=40)
        return FrameSequence(self._frame_labels(frames), points=np.stack([to_numpy(x * self.scale) for _, x in frames]))

    def _frame_labels(self, frames) -> list[str]:
        p = self.params
        steps = self.sched.T if p["sampler"] == "ddpm" else len(self.timesteps())
        return [f"t = {t}   ({p['sampler']}, {steps} steps)" for t, _ in frames]

    def view_samples(self):
        x, _ = self.run_sampler(x_T=self.fixed_noise[:min(64, max(40, 4 * self.n_classes))] if self.conditional
                                else self.fixed_noise)
        title = self.timesteps_text()
        if self.conditional:
            title += f", guidance w = {self.params['guidance']:g}; column = class"
        return ImageGrid.from_chw(self.to_data(x), nrow=self.n_classes if self.conditional else 8, title=title)

    def view_samples2d(self):
        x, _ = self.run_sampler(x_T=self.fixed_points)
        lab = to_numpy(self.labels_for(len(x))).astype(int) if self.conditional else None
        data = to_numpy(self.data.x[self.view_idx] * self.scale)
        return Scatter([PointSet("data", data, color=(160, 160, 160), size=3),
                        PointSet("samples", self.to_data(x), lab, self.dataset.class_names,
                                 color=None if lab is not None else (214, 39, 40), size=4)],
                       x_label="x1", y_label="x2")

    def view_schedule(self):
        s = self.sched
        return Curves(np.arange(s.T), {"beta_t": to_numpy(s.betas), "alpha_bar_t": to_numpy(s.alpha_bar),
                                       "SNR_t": to_numpy(s.snr)}, x_label="t", log_y=True)

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
        labels = self.labels_for(len(grid))
        eps = self.eps_model(labels)(grid, tt)
        mag = eps.norm(dim=1).view(res, res)
        step = 0.8 * float((hi - lo).max()) / res / (eps.norm(dim=1).max().item() + 1e-9)
        s = self.scale
        return Field2D(to_numpy(mag), tuple(float(v) * s for v in (lo[0], hi[0], lo[1], hi[1])),
                       points=[PointSet("data", to_numpy(data * s), color=(90, 90, 90), size=3)],
                       vectors=[Vectors("-eps (towards data)", to_numpy(grid * s), to_numpy(-eps * step * s),
                                        color=(255, 255, 255))],
                       value_label=f"|eps| at t = {t}")

    def view_sampler_compare(self):
        """Time per sample for DDPM (T steps) and DDIM (sample_steps), with coverage on mixtures."""
        n = 500 if not self.images else 16
        labels, times = [], []
        for name, steps in (("ddpm", self.sched.T), ("ddim", self.params["sample_steps"])):
            t0 = time.perf_counter()
            x, _ = self.run_sampler(n, sampler=name, steps=steps)
            per = (time.perf_counter() - t0) / n
            label = f"{name.upper()} {steps} steps"
            if not self.images and self.dataset.mixture is not None:
                mix = self.dataset.mixture
                cov = mode_coverage(self.to_data(x), mix.centers, mix.std)
                label += f"\n{cov['modes_covered']} modes, HQ {cov['high_quality']:.2f}"
            labels.append(label)
            times.append(per * 1e3)
        return Bars(labels, np.array(times), y_label="ms per sample")
