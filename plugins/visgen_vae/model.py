"""The VAE network and its loss, following the course notes' equations."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F
from torch.distributions import Normal

from visgen import ParamError
from visgen.nn import MLP, ConvDecoder, ConvEncoder


class VAE(nn.Module):
    """q(z|x) = N(mu, sigma^2) from the encoder; p(x|z) Bernoulli (logits) or Gaussian.

    With ``n_classes`` it is a conditional VAE: q(z|x, y) and p(x|z, y), the one-hot label y
    beside x in the encoder (extra channels for convs) and beside z in the decoder; every
    method then takes ``y``."""

    def __init__(self, data_shape: tuple, latent_dim: int, hidden: int, arch: str, likelihood: str,
                 data_var: Optional[torch.Tensor] = None, n_classes: int = 0):
        super().__init__()
        self.data_shape, self.latent_dim, self.likelihood = tuple(data_shape), latent_dim, likelihood
        self.arch, self.n_classes = arch, n_classes
        dim = math.prod(data_shape)
        if arch == "conv":
            if len(data_shape) != 3:
                raise ParamError("arch=conv needs image data; use arch=mlp for 2D points")
            ch = max(8, hidden // 8)
            c, h, w = data_shape
            self.encoder = ConvEncoder((c + n_classes, h, w), 2 * latent_dim, channels=ch)
            self.decoder = ConvDecoder(latent_dim + n_classes, data_shape, channels=ch)
        else:
            # (Flatten first, a no-op on the flat input: the layer names of saved runs stay as they were)
            self.encoder = nn.Sequential(nn.Flatten(), MLP(dim + n_classes, 2 * latent_dim, hidden))
            self.decoder = nn.Sequential(MLP(latent_dim + n_classes, dim, hidden), nn.Unflatten(1, data_shape))
        # Gaussian decoder: one learned log-variance per data dimension, starting at the data's
        # own variance (the best decoder that ignores z): Adam moves a log-variance by about
        # lr per step, so from 0 it would take thousands of steps to reach a pixel's 1e-3.
        start = torch.zeros(data_shape) if data_var is None else torch.log(data_var.float())
        self.log_var_x = nn.Parameter(start) if likelihood == "gaussian" else None

    def encode(self, x, y=None):
        """(mu, log sigma^2) of q(z|x), or of q(z|x, y) given the one-hot label ``y``."""
        if self.arch == "conv":
            h = x if y is None else torch.cat([x, y[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        else:
            h = x.flatten(1) if y is None else torch.cat([x.flatten(1), y], 1)
        mu, log_var = self.encoder(h).chunk(2, dim=1)
        return mu, log_var.clamp(-12, 8)

    def decode(self, z, y=None):
        """Decoder output: Bernoulli logits or Gaussian means of p(x|z) (or p(x|z, y))."""
        return self.decoder(z if y is None else torch.cat([z, y], 1))

    def mean(self, z, y=None):
        """E[x|z] (or E[x|z, y]) in data space."""
        out = self.decode(z, y)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def loss(self, x, beta: float, y=None):
        """Per-sample means of the beta-weighted objective, reconstruction and KL, the KL of
        each latent dimension, and the posterior means mu (for counting active units)."""
        mu, log_var = self.encode(x, y)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # reparameterisation: z = mu + sigma * eps
        recon = self.recon_nll(x, self.decode(z, y)).mean()
        kl_dims = self.kl_per_dim(mu, log_var)
        kl = kl_dims.sum()
        return recon + beta * kl, recon, kl, kl_dims, mu  # beta-VAE: recon + beta * KL (beta = 1: the ELBO)

    @staticmethod
    def kl_per_dim(mu, log_var):
        """KL(q(z_j|x) || N(0, 1)) per dimension j in closed form, averaged over the batch."""
        return (-0.5 * (1 + log_var - mu.pow(2) - log_var.exp())).mean(0)

    def log_weights(self, x, k: int, generator=None):
        """log w = log p(x|z) + log p(z) - log q(z|x) for ``k`` draws z ~ q(z|x) per example: (k, N).

        Their mean is the ELBO and log (1/k) sum exp of them the IWAE bound (Burda et al.)."""
        mu, log_var = self.encode(x)
        std = torch.exp(0.5 * log_var)
        eps = torch.randn((k, *mu.shape), generator=generator).to(mu.device) if generator is not None \
            else torch.randn((k, *mu.shape), device=mu.device)
        z = mu + std * eps
        log_q = Normal(mu, std).log_prob(z).sum(-1)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
        xs = x.unsqueeze(0).expand(k, *x.shape).flatten(0, 1)
        log_px_z = -self.recon_nll(xs, self.decode(z.flatten(0, 1))).view(k, len(x))
        return log_px_z + log_pz - log_q

    def recon_nll(self, x, out):
        """-log p(x|z) per sample, summed over data dimensions (nats)."""
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            lv = self.log_var_x
            nll = 0.5 * (math.log(2 * math.pi) + lv + (x - out).pow(2) / lv.exp())
        return nll.flatten(1).sum(1)
