"""One trainer for the whole GAN family: the model id picks the objective."""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from visgen import (Field2D, ParamError, Histogram, HistogramSeries, ImageGrid, PointSet, Trainer, Vectors,
                    to_numpy)
from visgen.nn import BatchSampler, evaluating, set_lr

from . import losses, nets

# Colours that stand out on the blue-white-red map of D: real black, fake magenta, G(z grid) green.
REAL, FAKE, GRID = (20, 20, 20), (200, 0, 200), (0, 140, 60, 170)
GRID_POINTS = 60  # points along each line of the warped z grid


class GANTrainer(Trainer):
    """k discriminator steps, then one generator step; phases "D" and "G" step one side only."""

    no_likelihood_why = "a GAN is an implicit model: it learns to sample, and defines no density p(x)"

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        self.kind = p["loss"]
        self.images = data.kind == "images"
        self.conditional = p.get("conditional", False)
        if self.conditional and data.labels is None:
            raise ParamError(f"a conditional GAN needs labelled data; {data.name} has no labels")
        self.n_classes = data.num_classes if self.conditional else 0
        x = data.x * 2 - 1 if self.images else data.x  # tanh range for images
        self.data = BatchSampler(x, data.labels, self.device)
        self.G, self.D = nets.build(p["arch"], data.image_shape, p["latent_dim"], p["hidden"],
                                    self.n_classes, self.images, p.get("pack", 1), p.get("minibatch_std", False))
        if p["spectral_norm"]:
            nets.with_spectral_norm(self.D)
        self.G.to(self.device)
        self.D.to(self.device)
        if p.get("clip", 0) > 0:  # original WGAN: RMSprop + clipping
            self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=p["lr_g"])
            self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=p["lr_d"])
        else:
            betas = (p["beta1"], p["beta2"])
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=p["lr_g"], betas=betas)
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=p["lr_d"], betas=betas)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.fixed_z = torch.randn(64, p["latent_dim"], generator=gen).to(self.device)
        self.fixed_labels = (torch.arange(64) % max(self.n_classes, 1)).to(self.device)
        self._last = {}

    # -- parameters ------------------------------------------------------------
    def set_params(self, changed):
        super().set_params(changed)
        betas = (self.params["beta1"], self.params["beta2"])
        set_lr(self.opt_g, self.params["lr_g"], betas)
        set_lr(self.opt_d, self.params["lr_d"], betas)

    # -- helpers ---------------------------------------------------------------
    def onehot(self, labels):
        return None if not self.conditional else F.one_hot(labels, self.n_classes).float()

    def noise(self, n):
        z = torch.randn(n, self.params["latent_dim"], device=self.device)
        labels = torch.randint(0, max(self.n_classes, 1), (n,), device=self.device)
        return z, labels

    def generate(self, z, labels):
        return self.G(z, self.onehot(labels))

    # -- training ----------------------------------------------------------------
    def step(self, phase=None):
        p = self.params
        out = {}
        if phase in (None, "D"):
            for _ in range(1 if phase == "D" else p["d_steps"]):
                out.update(self._d_step())
        if phase in (None, "G"):
            out.update(self._g_step())
        self._last.update(out)
        return out

    def _d_step(self):
        p = self.params
        real, labels = self.data.batch(p["batch_size"])
        z, _ = self.noise(len(real))
        with torch.no_grad():
            fake = self.generate(z, labels)
        cond = self.onehot(labels)
        s_real, s_fake = self.D(real, cond), self.D(fake, cond)
        loss = losses.d_loss(self.kind, s_real, s_fake)
        out = {}
        if self.kind == "wasserstein":
            out["critic_gap"] = (s_real.mean() - s_fake.mean()).item()  # the Wasserstein estimate
            if p.get("gp_weight", 0) > 0:
                gp, norm = losses.gradient_penalty(self.D, real, fake, *(() if cond is None else (cond,)))
                loss = loss + p["gp_weight"] * gp
                out["grad_norm"] = norm.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if p.get("clip", 0) > 0:
            with torch.no_grad():
                for w in self.D.parameters():
                    w.clamp_(-p["clip"], p["clip"])
        out.update(d_loss=loss.item(), d_real=losses.score(self.kind, s_real).mean().item(),
                   d_fake=losses.score(self.kind, s_fake).mean().item())
        return out

    def _g_step(self):
        p = self.params
        k = p.get("unrolled_steps", 0)
        if k:  # unrolled GAN: G answers the D that k more steps would make of this one...
            saved = copy.deepcopy(self.D.state_dict()), copy.deepcopy(self.opt_d.state_dict())
            for _ in range(k):
                self._d_step()
        z, labels = self.noise(p["batch_size"])
        s_fake = self.D(self.generate(z, labels), self.onehot(labels))
        loss = losses.g_loss(self.kind, s_fake, saturating=p.get("g_loss") == "saturating")
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.zero_grad(set_to_none=True)  # D's gradients from G's loss must not leak into its next step
        if k:  # ...then D goes on from where it was: the look-ahead was G's alone
            self.D.load_state_dict(saved[0])
            self.opt_d.load_state_dict(saved[1])
        return {"g_loss": loss.item()}

    def _judge_each(self, x, onehot=None):
        """D's raw output for each sample on its own (a packed or batch-aware D: see ``collapse``)."""
        return self.D.each(x, onehot) if hasattr(self.D, "each") else self.D(x, onehot)

    # -- sampling and metrics ------------------------------------------------------
    @torch.no_grad()
    def sample(self, n, labels=None):
        z, rand_labels = self.noise(n)
        with evaluating(self.G):
            x = self.generate(z, rand_labels if labels is None else labels)
        return to_numpy((x + 1) / 2 if self.images else x)

    # -- views (Trainer.snapshot calls them without gradients, G and D in eval mode) --

    def view_scores(self):
        real, labels = self.data.sample(512)
        z, _ = self.noise(len(real))
        cond = self.onehot(labels)
        s_real, s_fake = self.D(real, cond), self.D(self.generate(z, labels), cond)
        name = self._score_name()
        rng = (0.0, 1.0) if self.kind == "bce" else None
        return Histogram([HistogramSeries(f"{name} on real", to_numpy(losses.score(self.kind, s_real)), REAL),
                          HistogramSeries(f"{name} on fake", to_numpy(losses.score(self.kind, s_fake)), FAKE)],
                         bins=40, range=rng, x_label=name)

    def view_samples(self):
        x = self.generate(self.fixed_z, self.fixed_labels)
        title = "fixed z" + (": column = class" if self.conditional else "")
        return ImageGrid.from_chw(to_numpy((x + 1) / 2), nrow=max(self.n_classes, 8) if self.conditional else 8,
                                  title=title)

    def view_class_samples(self):
        k = self.n_classes
        labels = torch.arange(k, device=self.device).repeat_interleave(8)
        z = self.fixed_z[:8].repeat(k, 1)
        x = self.G(z, self.onehot(labels))
        names = self.dataset.class_names or [str(i) for i in range(k)]
        return ImageGrid.from_chw(to_numpy((x + 1) / 2), nrow=8,
                                  title="row = class (" + ", ".join(map(str, names)) + "), same z per column")

    def _bounds(self):
        lo, hi = np.percentile(self.dataset.x, 0.5, axis=0), np.percentile(self.dataset.x, 99.5, axis=0)
        pad = 0.25 * (hi - lo).max() + 0.5
        return lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad

    def view_decision(self, res: int = 80):
        """D over the plane, real and fake points, G's gradient arrows, the warped z grid."""
        x0, x1, y0, y1 = self._bounds()
        gx, gy = torch.meshgrid(torch.linspace(x0, x1, res), torch.linspace(y0, y1, res), indexing="xy")
        grid = torch.stack([gx.flatten(), gy.flatten()], 1).to(self.device)
        values = self._d_score_averaged(grid).view(res, res)
        real, _ = self.data.sample(500)
        z, labels = self.noise(500)
        fake = self.generate(z, labels)
        arrows = fake[:100].clone().requires_grad_(True)
        with torch.enable_grad():  # where G's loss pushes each fake point: -grad_x of g_loss
            s = self._judge_each(arrows, self.onehot(labels[:100]))
            loss = losses.g_loss(self.kind, s, saturating=self.params.get("g_loss") == "saturating")
            (grad,) = torch.autograd.grad(loss, arrows)
        direction = -grad
        scale = 0.15 * (x1 - x0) / (direction.norm(dim=1).max().item() + 1e-12)
        manifold = self._manifold()
        fake_set = (PointSet("fake G(z)", to_numpy(fake), to_numpy(labels).astype(int),
                             self.dataset.class_names, size=5) if self.conditional
                    else PointSet("fake G(z)", to_numpy(fake), color=FAKE, size=5))
        return Field2D(to_numpy(values), (x0, x1, y0, y1),
                       levels=(0.0, 1.0) if self.kind == "bce" else None, colormap="CET-D1",
                       points=[PointSet("real", to_numpy(real), color=REAL, size=4), fake_set,
                               PointSet("G(z grid)", manifold, color=GRID, polyline=GRID_POINTS)],
                       vectors=[Vectors("G gradient", to_numpy(arrows.detach()), to_numpy(direction) * scale,
                                        color=(0, 0, 0))],
                       value_label=self._score_name())

    def _score_name(self) -> str:
        """What D outputs: a Wasserstein critic scores, the others discriminate."""
        return "critic f(x)" if self.kind == "wasserstein" else "D(x)"

    def _d_score_averaged(self, x):
        """D's score at x; for a conditional D, averaged over the classes."""
        if not self.conditional:
            return losses.score(self.kind, self._judge_each(x))
        scores = [losses.score(self.kind, self._judge_each(x, F.one_hot(torch.full((len(x),), c, device=x.device),
                                                                self.n_classes).float()))
                  for c in range(self.n_classes)]
        return torch.stack(scores).mean(0)

    def _manifold(self, lines: int = 15, points: int = GRID_POINTS):
        """G applied to a regular grid in the first two z dimensions (the rest 0): 2 x ``lines``
        grid lines of ``points`` consecutive points each."""
        d = self.params["latent_dim"]
        t = torch.linspace(-2.5, 2.5, points, device=self.device)
        ticks = torch.linspace(-2.5, 2.5, lines, device=self.device)
        zs = []
        for v in ticks:
            for a, b in ((t, v.expand(points)), (v.expand(points), t)):
                z = torch.zeros(points, d, device=self.device)
                z[:, 0] = a
                if d > 1:
                    z[:, 1] = b
                zs.append(z)
        z = torch.cat(zs)
        labels = torch.zeros(len(z), dtype=torch.long, device=self.device)
        return to_numpy(self.generate(z, labels))
