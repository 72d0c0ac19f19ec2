"""Training step and views of the VAE plugin."""
from __future__ import annotations

import math

import numpy as np
import torch

from visgen import Bars, ImageGrid, PointSet, Scatter, Trainer, to_numpy
from visgen.nn import BatchSampler, PCA2D, evaluating, set_lr

from .model import VAE

N_LATENT_POINTS = 2000
COLLAPSED = 0.01  # nats: a latent dimension with less KL than this carries (almost) nothing about x
KL_FLOOR = 1.0    # nats: the KL bars' axis never ends lower, so a collapse looks like one


class VAETrainer(Trainer):
    """Adam on the beta-weighted negative ELBO."""

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        likelihood = p["likelihood"]
        if likelihood == "auto":
            likelihood = "bernoulli" if data.kind == "images" else "gaussian"
        self.model = VAE(data.image_shape, p["latent_dim"], p["hidden"], p["arch"], likelihood).to(self.device)
        # The ELBO bounds log p(x) only where p(x|z) is a density: a Gaussian decoder is one; a
        # Bernoulli decoder on grey pixels is not (it does not integrate to 1 over [0, 1]).
        self.likelihood = "bound" if likelihood == "gaussian" else None
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p["lr"])
        self.data = BatchSampler(data.x, data.labels, self.device)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.fixed_z = torch.randn(64, p["latent_dim"], generator=gen).to(self.device)
        self.view_idx = torch.randperm(len(data), generator=gen)[:N_LATENT_POINTS].to(self.device)
        self.pca = PCA2D()
        self.clicked = None  # (x, y) of the last click on the latent plot
        self.kl_axis = KL_FLOOR  # the KL bars' axis: the running maximum, never below the floor

    def set_params(self, changed):
        super().set_params(changed)
        set_lr(self.opt, self.params["lr"])

    def step(self, phase=None):
        x, _ = self.data.batch(self.params["batch_size"])
        loss, recon, kl, kl_dims = self.model.loss(x, self.params["beta"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"neg_elbo": (recon + kl).item(), "recon": recon.item(), "kl": kl.item(),
                "active_dims": int((kl_dims > COLLAPSED).sum())}

    # -- views ------------------------------------------------------------
    def _latent_xy(self, mu: torch.Tensor) -> np.ndarray:
        z = to_numpy(mu)
        if z.shape[1] == 2:
            return z
        return self.pca.fit(z).transform(z)

    def view_latent(self):
        x = self.data.x[self.view_idx]
        mu, _ = self.model.encode(x)
        labels = None if self.data.labels is None else to_numpy(self.data.labels[self.view_idx]).astype(int)
        axes = ("z1", "z2") if self.params["latent_dim"] == 2 else ("PC 1 of z", "PC 2 of z")
        return Scatter([PointSet("posterior means", self._latent_xy(mu), labels, self.dataset.class_names)],
                       x_label=axes[0], y_label=axes[1])

    def view_recon(self):
        x = self.data.x[self.view_idx[:32]]
        mu, _ = self.model.encode(x)
        rec = self.model.mean(mu)
        rows = [torch.cat([x[i:i + 8], rec[i:i + 8]]) for i in range(0, 32, 8)]
        return ImageGrid.from_chw(to_numpy(torch.cat(rows)), nrow=8,
                         title="odd rows: input, even rows: reconstruction")

    def view_samples(self):
        return ImageGrid.from_chw(to_numpy(self.model.mean(self.fixed_z)), nrow=8, title="fixed z ~ N(0, I)")

    def _kl_per_dim(self) -> np.ndarray:
        """KL per latent dimension (nats), averaged over the view's training points."""
        return to_numpy(self.model.kl_per_dim(*self.model.encode(self.data.x[self.view_idx])))

    def view_traversal(self):
        d, steps = self.params["latent_dim"], torch.linspace(-2.5, 2.5, 9, device=self.device)
        kl = self._kl_per_dim()
        captions = None
        if d == 2:  # the whole 2D manifold on a grid
            zz = torch.stack(torch.meshgrid(steps, steps.flip(0), indexing="xy"), -1).reshape(-1, 2)
            title = f"decoded grid over z1 (left-right, KL {kl[0]:.2f}) and z2 (bottom-top, KL {kl[1]:.2f})"
        else:  # one row per dimension, most informative first; the other dimensions at 0
            order = np.argsort(-kl, kind="stable")[:8]
            zz = torch.zeros(len(order), 9, d, device=self.device)
            for row, j in enumerate(order):
                zz[row, :, j] = steps
            zz = zz.reshape(-1, d)
            captions = [""] * len(zz)
            for row, j in enumerate(order):
                captions[9 * row] = f"z{j + 1} {kl[j]:.2f}" + ("" if kl[j] >= COLLAPSED else " off")
            title = f"row: one z_j from -2.5 to 2.5, rows by KL (nats) largest first; off: KL < {COLLAPSED:g}"
        return ImageGrid.from_chw(to_numpy(self.model.mean(zz)), nrow=9, title=title, captions=captions)

    def view_samples2d(self):
        data = PointSet("data", to_numpy(self.data.x[self.view_idx]), color=(90, 90, 90), size=4)
        series = [PointSet("samples", self.sample(1000), color=(214, 39, 40, 140), size=4), data]
        z = self._clicked_z()
        if z is not None:
            series.append(PointSet("decoded click", to_numpy(self.model.mean(z)), color=(0, 0, 0), size=12))
        return Scatter(series, x_label="x1", y_label="x2")

    def view_kl_dims(self):
        kl = self._kl_per_dim()
        self.kl_axis = max(self.kl_axis, float(kl.max()))  # never shrinks: collapsing bars are seen to fall
        collapsed = kl < COLLAPSED
        return Bars([f"z{j + 1}" for j in range(len(kl))], kl, y_max=self.kl_axis, marked=collapsed,
                    threshold=COLLAPSED,
                    y_label=f"KL (nats), {len(kl) - collapsed.sum()}/{len(kl)} active")

    def view_decoded(self):
        z = self._clicked_z()
        return None if z is None else ImageGrid.from_chw(to_numpy(self.model.mean(z)), nrow=1,
                                                         title="decoded from the clicked point")

    def _clicked_z(self):
        """z under the last click on the latent plot (through the plot's current PCA when the
        latent has more than 2 dimensions), or None before any click. Views that show the
        click decode it afresh each time, so the picture follows the model as it trains."""
        if self.clicked is None:
            return None
        xy = np.array([self.clicked], dtype=np.float32)
        if self.params["latent_dim"] != 2:
            if self.pca.components is None:
                return None
            xy = self.pca.inverse(xy)
        return torch.as_tensor(xy, dtype=torch.float32, device=self.device)

    def on_click(self, view_id, x, y):
        if view_id != "latent":
            return {}
        self.clicked = (x, y)
        target = "decoded" if self.dataset.kind == "images" else "samples2d"
        snap = self.snapshot(target)
        return {} if snap is None else {target: snap}

    # -- sampling and evaluation --------------------------------------------
    @torch.no_grad()
    def sample(self, n):
        z = torch.randn(n, self.params["latent_dim"], device=self.device)
        with evaluating(self.model):
            mean = self.model.mean(z)
        if self.model.likelihood == "gaussian" and self.dataset.kind == "points":
            mean = mean + torch.exp(0.5 * self.model.log_var_x) * torch.randn_like(mean)
        return to_numpy(mean.clamp(0, 1) if self.dataset.kind == "images" else mean)

    @torch.no_grad()
    @torch.no_grad()
    def log_likelihood(self, x):
        """The ELBO per example, E_q[log p(x|z)] - KL(q(z|x) || p(z)) (one z each): a lower
        bound on log p(x) in nats, for a Gaussian decoder."""
        if self.likelihood is None:
            raise NotImplementedError("a Bernoulli decoder on grey pixels is not a density")
        mu, log_var = self.model.encode(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        kl = (-0.5 * (1 + log_var - mu.pow(2) - log_var.exp())).sum(1)
        return -(self.model.recon_nll(x, self.model.decode(z)) + kl)

    def summary(self):
        """Negative ELBO on up to 2,000 training points: an upper bound on -log p(x)."""
        with evaluating(self.model):
            _, recon, kl, _ = self.model.loss(self.data.x[self.view_idx], 1.0)
        nats = (recon + kl).item()
        return {"neg_elbo_nats": nats, "bits_per_dim": nats / (self.dataset.dim * math.log(2))}

    # -- the autoencoder protocol (other plugins, e.g. latent diffusion, use these) ---
    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Posterior means mu(x) for data-space x."""
        with evaluating(self.model):
            mu, _ = self.model.encode(torch.as_tensor(x, dtype=torch.float32, device=self.device))
        return to_numpy(mu)

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """E[x | z] in data space."""
        with evaluating(self.model):
            x = self.model.mean(torch.as_tensor(z, dtype=torch.float32, device=self.device))
        return to_numpy(x.clamp(0, 1) if self.dataset.kind == "images" else x)
