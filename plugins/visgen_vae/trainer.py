"""Training step and views of the VAE plugin."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from visgen import Bars, ImageGrid, ParamError, PointSet, Scatter, Trainer, to_numpy
from visgen.nn import BatchSampler, PCA2D, dequantise, evaluating, set_lr

from .annealing import kl_weight
from .model import VAE

N_LATENT_POINTS = 2000
COLLAPSED = 0.01  # nats: a latent dimension with less KL than this carries (almost) nothing about x
KL_FLOOR = 1.0    # nats: the KL bars' axis never ends lower, so a collapse looks like one
ACTIVE_COVARIANCE = 0.01  # Burda et al.'s threshold on the variance of a unit's posterior mean


class VAETrainer(Trainer):
    """Adam on the beta-weighted negative ELBO."""

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        likelihood = p["likelihood"]
        if likelihood == "auto":
            likelihood = "bernoulli" if data.kind == "images" else "gaussian"
        # floor: the variance of the dequantisation noise of one 8-bit level
        data_var = torch.as_tensor(data.x.reshape(len(data), *data.image_shape).var(0)) + 1 / (12 * 256 ** 2)
        self.conditional = bool(p.get("conditional", False))  # cVAE: the label goes in with x and with z
        if self.conditional and data.labels is None:
            raise ParamError(f"a conditional VAE needs labelled data; {data.name} has no labels")
        self.n_classes = data.num_classes if self.conditional else 0
        self.model = VAE(data.image_shape, p["latent_dim"], p["hidden"], p["arch"], likelihood,
                         data_var, self.n_classes).to(self.device)
        # The ELBO bounds log p(x) only where p(x|z) is a density: a Gaussian decoder is one; a
        # Bernoulli decoder on grey pixels is not (it does not integrate to 1 over [0, 1]).
        self.likelihood = "bound" if likelihood == "gaussian" and not self.conditional else None
        self.no_likelihood_why = ("a cVAE bounds log p(x|y), an image's likelihood given its class, not log p(x)"
                                  if self.conditional else
                                  "a Bernoulli decoder on grey pixels is not a density: "
                                  "set likelihood=gaussian for a bound on log p(x)")
        # On 8-bit pixels a Gaussian decoder would shrink its variance onto pixels that are always 0
        # without end; trained on dequantised pixels its density stays a bound on the discrete image.
        self.dequantised = likelihood == "gaussian" and data.kind == "images"
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

    def _y(self, labels):
        """The one-hot condition of a cVAE (None for the plain VAE)."""
        return F.one_hot(labels, self.n_classes).float() if self.conditional else None

    def _view_y(self, n=None):
        """The labels of the view's training points, one-hot (cVAE) or None."""
        idx = self.view_idx if n is None else self.view_idx[:n]
        return self._y(self.data.labels[idx]) if self.conditional else None

    def step(self, phase=None):
        x, labels = self.data.batch(self.params["batch_size"])
        if self.dequantised:
            x = dequantise(x)
        p = self.params
        w = kl_weight(self.step_count, p["kl_warmup"], p["warmup_steps"])  # KL annealing: 1 without it
        loss, recon, kl, kl_dims, mu = self.model.loss(x, p["beta"] * w, self._y(labels))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        # active units (Burda et al. 2016): A_u = Cov_x(E_q[u|x]) > 0.01, over this batch
        active_units = int((mu.detach().var(0) > ACTIVE_COVARIANCE).sum()) if len(mu) > 1 else 0
        return {"neg_elbo": (recon + kl).item(), "recon": recon.item(), "kl": kl.item(),
                "active_dims": int((kl_dims > COLLAPSED).sum()), "active_units": active_units, "kl_weight": w}

    # -- views ------------------------------------------------------------
    def _latent_xy(self, mu: torch.Tensor) -> np.ndarray:
        z = to_numpy(mu)
        if z.shape[1] == 2:
            return z
        return self.pca.fit(z).transform(z)

    def view_latent(self):
        x = self.data.x[self.view_idx]
        mu, _ = self.model.encode(x, self._view_y())
        labels = None if self.data.labels is None else to_numpy(self.data.labels[self.view_idx]).astype(int)
        axes = ("z1", "z2") if self.params["latent_dim"] == 2 else ("PC 1 of z", "PC 2 of z")
        return Scatter([PointSet("posterior means", self._latent_xy(mu), labels, self.dataset.class_names)],
                       x_label=axes[0], y_label=axes[1])

    def view_recon(self):
        x, y = self.data.x[self.view_idx[:32]], self._view_y(32)
        mu, _ = self.model.encode(x, y)
        rec = self.model.mean(mu, y)
        rows = [torch.cat([x[i:i + 8], rec[i:i + 8]]) for i in range(0, 32, 8)]
        return ImageGrid.from_chw(to_numpy(torch.cat(rows)), nrow=8,
                         title="odd rows: input, even rows: reconstruction")

    def view_samples(self):
        if self.conditional:  # row = class, column = one z: the same z (style) in every class
            k = self.n_classes
            y = self._y(torch.arange(k, device=self.device).repeat_interleave(8))
            x = self.model.mean(self.fixed_z[:8].repeat(k, 1), y)
            return ImageGrid.from_chw(to_numpy(x), nrow=8, title="row = class (" + ", ".join(self._names())
                                      + "); column = one z ~ N(0, I), the same in every row")
        return ImageGrid.from_chw(to_numpy(self.model.mean(self.fixed_z)), nrow=8, title="fixed z ~ N(0, I)")

    def view_restyle(self):
        """cVAE: real images' codes decoded as every class: the style kept, the class changed."""
        k, n = self.n_classes, 8
        x, y = self.data.x[self.view_idx[:n]], self._view_y(n)
        mu, _ = self.model.encode(x, y)
        every = self._y(torch.arange(k, device=self.device).repeat(n))
        out = self.model.mean(mu.repeat_interleave(k, 0), every).view(n, k, *x.shape[1:])
        grid = torch.cat([x.unsqueeze(1), out], 1).flatten(0, 1)
        return ImageGrid.from_chw(to_numpy(grid), nrow=k + 1,
                                  title="each row: an image, then its z decoded as " + ", ".join(self._names()))

    def _names(self) -> list:
        return [str(c) for c in (self.dataset.class_names or range(self.n_classes))]

    def _kl_per_dim(self) -> np.ndarray:
        """KL per latent dimension (nats), averaged over the view's training points."""
        return to_numpy(self.model.kl_per_dim(*self.model.encode(self.data.x[self.view_idx], self._view_y())))

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
        y = None
        if self.conditional:  # one class throughout, so the rows show what z alone does
            y = self._y(torch.zeros(len(zz), dtype=torch.long, device=self.device))
            title += f"; as class {self._names()[0]}"
        return ImageGrid.from_chw(to_numpy(self.model.mean(zz, y)), nrow=9, title=title, captions=captions)

    def view_samples2d(self):
        data = PointSet("data", to_numpy(self.data.x[self.view_idx]), color=(90, 90, 90), size=4)
        series = [PointSet("samples", self.sample(1000), color=(214, 39, 40, 140), size=4), data]
        z = self._clicked_z()
        if z is not None:
            zs, y = self._as_every_class(z)
            series.append(PointSet("decoded click", to_numpy(self.model.mean(zs, y)), color=(0, 0, 0), size=12))
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
        if z is None:
            return None
        zs, y = self._as_every_class(z)
        return ImageGrid.from_chw(to_numpy(self.model.mean(zs, y)), nrow=len(zs),
                                  title="decoded from the clicked point" + (" as every class" if y is not None else ""))

    def _as_every_class(self, z):
        """A cVAE decodes one z as every class; a VAE as it is."""
        if not self.conditional:
            return z, None
        k = self.n_classes
        return z.repeat(k, 1), self._y(torch.arange(k, device=self.device))

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
        y = None
        if self.conditional:  # y ~ the data's class frequencies, then x ~ p(x|z, y)
            y = self._y(self.data.labels[torch.randint(0, len(self.data.labels), (n,), device=self.device)])
        with evaluating(self.model):
            mean = self.model.mean(z, y)
        if self.model.likelihood == "gaussian" and self.dataset.kind == "points":
            mean = mean + torch.exp(0.5 * self.model.log_var_x) * torch.randn_like(mean)
        return to_numpy(mean.clamp(0, 1) if self.dataset.kind == "images" else mean)

    def _bounds(self, x):
        """(ELBO, IWAE bound) per example in nats from the same ``iwae_k`` draws of z (fixed, so
        held-out numbers repeat): the IWAE bound is the tighter, and equal when k = 1."""
        if self.likelihood is None:
            raise NotImplementedError(self.no_likelihood_why)
        if self.dataset.kind == "images":
            x = dequantise(x, seed=0)
        k = self.params["iwae_k"]
        log_w = self.model.log_weights(x, k, generator=torch.Generator().manual_seed(0))
        elbo = log_w.mean(0)                                        # ELBO = E_q[log p(x, z) - log q(z|x)]
        iwae = torch.logsumexp(log_w, 0) - math.log(k)              # IWAE = log (1/K) sum_k p(x, z_k) / q(z_k|x)
        return elbo, iwae

    @torch.no_grad()
    def log_likelihood(self, x):
        """The IWAE bound with ``iwae_k`` samples: a lower bound on log p(x) in nats, at least as
        tight as the ELBO. Needs a density decoder (Gaussian); images are dequantised."""
        return self._bounds(x)[1]

    @torch.no_grad()
    def likelihood_terms(self, x):
        """The held-out negative ELBO and negative IWAE bound per example (nats)."""
        elbo, iwae = self._bounds(x)
        return {"neg_elbo_nats": -elbo, "iwae_nll_nats": -iwae}

    def summary(self):
        """Negative ELBO on up to 2,000 training points (the runtime reports held-out bounds)."""
        with evaluating(self.model):
            _, recon, kl, _, _ = self.model.loss(self.data.x[self.view_idx], 1.0, self._view_y())
        return {"train_neg_elbo_nats": (recon + kl).item(), "iwae_k": self.params["iwae_k"]}

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
