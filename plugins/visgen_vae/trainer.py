"""Training step and views of the VAE plugin."""
from __future__ import annotations

import math

import numpy as np
import torch

from visgen import Bars, ImageGrid, PointSet, Scatter, Trainer, to_numpy
from visgen.nn import PCA2D, BatchSampler, evaluating

from .model import VAE

N_LATENT_POINTS = 2000


class VAETrainer(Trainer):
    """Adam on the beta-weighted negative ELBO."""

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        likelihood = p["likelihood"]
        if likelihood == "auto":
            likelihood = "bernoulli" if data.kind == "images" else "gaussian"
        self.model = VAE(data.image_shape, p["latent_dim"], p["hidden"], p["arch"], likelihood).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p["lr"])
        self.data = BatchSampler(data.x, data.labels, self.device)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.fixed_z = torch.randn(64, p["latent_dim"], generator=gen).to(self.device)
        self.view_idx = torch.randperm(len(data), generator=gen)[:N_LATENT_POINTS].to(self.device)
        self.pca = PCA2D()

    def set_params(self, changed):
        super().set_params(changed)
        for group in self.opt.param_groups:
            group["lr"] = self.params["lr"]

    def step(self, phase=None):
        x, _ = self.data.batch(self.params["batch_size"])
        loss, recon, kl, _ = self.model.loss(x, self.params["beta"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"neg_elbo": (recon + kl).item(), "recon": recon.item(), "kl": kl.item()}

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

    def view_traversal(self):
        d, steps = self.params["latent_dim"], torch.linspace(-2.5, 2.5, 9, device=self.device)
        if d == 2:  # the whole 2D manifold on a grid
            zz = torch.stack(torch.meshgrid(steps, steps.flip(0), indexing="xy"), -1).reshape(-1, 2)
            title = "decoded grid over z1 (left-right) and z2 (bottom-top)"
        else:  # each of the first dimensions in turn, the others at 0
            rows = min(d, 8)
            zz = torch.zeros(rows, 9, d, device=self.device)
            for j in range(rows):
                zz[j, :, j] = steps
            zz = zz.reshape(-1, d)
            title = f"row j: z_j from -2.5 to 2.5 (first {rows} dims)"
        return ImageGrid.from_chw(to_numpy(self.model.mean(zz)), nrow=9, title=title)

    def view_samples2d(self, clicked=None):
        data = PointSet("data", to_numpy(self.data.x[self.view_idx]), color=(90, 90, 90), size=4)
        series = [PointSet("samples", self.sample(1000), color=(214, 39, 40, 140), size=4), data]
        if clicked is not None:
            series.append(PointSet("decoded click", clicked, color=(0, 0, 0), size=12))
        return Scatter(series, x_label="x1", y_label="x2")

    def view_kl_dims(self):
        x = self.data.x[self.view_idx]
        _, _, _, kl_dims = self.model.loss(x, 1.0)
        return Bars([f"z{j + 1}" for j in range(len(kl_dims))], to_numpy(kl_dims), y_label="KL (nats)")

    def view_decoded(self, z=None):
        return None if z is None else ImageGrid.from_chw(to_numpy(self.model.mean(z)), nrow=1,
                                                title="decoded from the clicked point")

    @torch.no_grad()
    def on_click(self, view_id, x, y):
        if view_id != "latent":
            return {}
        xy = np.array([[x, y]], dtype=np.float32)
        z = xy if self.params["latent_dim"] == 2 or self.pca.components is None else self.pca.inverse(xy)
        if self.pca.components is None and self.params["latent_dim"] != 2:
            return {}
        z = torch.as_tensor(z, device=self.device)
        with evaluating(self.model):
            if self.dataset.kind == "images":
                return {"decoded": self.view_decoded(z)}
            return {"samples2d": self.view_samples2d(clicked=to_numpy(self.model.mean(z)))}

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
