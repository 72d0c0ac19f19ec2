"""The VQ-VAE (van den Oord et al. 2017): an autoencoder whose code is a grid of codebook indices.

The encoder gives a vector z_e per position; each is replaced by its nearest codebook vector
e_k; the decoder sees only those. No KL term, no blur from sampling z: a discrete code.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from visgen.nn import MLP


class VectorQuantiser(nn.Module):
    """z_q = e_k with k = argmin_j ||z_e - e_j||, over the last axis of ``z_e`` (N, ..., D).

    ``ema``: the codebook follows the mean of the vectors assigned to each code (exponential
    moving averages, decay ``decay``), else it is learnt through the codebook loss."""

    def __init__(self, n_codes: int, dim: int, ema: bool = True, decay: float = 0.99):
        super().__init__()
        self.n_codes, self.dim, self.ema, self.decay = n_codes, dim, ema, decay
        init = torch.randn(n_codes, dim) * 0.1
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("cluster_size", torch.ones(n_codes))  # n_k, soft counts
            self.register_buffer("embed_sum", init.clone())            # m_k, soft sums of assigned z_e
        else:
            self.codebook = nn.Parameter(init)

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """The index of each row's nearest code: ||z||^2 - 2 z.e + ||e||^2, minimised over e."""
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)
        return d.argmin(1)

    def forward(self, z_e: torch.Tensor):
        """``(z_q, indices, codebook_loss, commitment)``; z_q carries the straight-through
        gradient: forward it is e_k, backward the decoder's gradient goes to z_e unchanged."""
        flat = z_e.reshape(-1, self.dim)
        idx = self.nearest(flat)
        e = self.codebook[idx]
        if self.training and self.ema:
            self._ema_update(flat.detach(), idx)
            e = self.codebook[idx]
        codebook_loss = F.mse_loss(e, flat.detach()) if not self.ema else flat.new_zeros(())  # ||sg[z_e] - e||^2
        commitment = F.mse_loss(flat, e.detach())                                            # ||z_e - sg[e]||^2
        z_q = flat + (e - flat).detach()  # straight-through estimator: dz_q/dz_e := I
        return z_q.view_as(z_e), idx.view(z_e.shape[:-1]), codebook_loss, commitment

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        """n_k <- g n_k + (1 - g) |{i: k_i = k}|, m_k <- g m_k + (1 - g) sum_{k_i = k} z_i, e_k = m_k / n_k."""
        onehot = F.one_hot(idx, self.n_codes).type_as(flat)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        size = (self.cluster_size + 1e-5) / (n + self.n_codes * 1e-5) * n  # Laplace smoothing: no empty code divides by 0
        self.codebook.copy_(self.embed_sum / size.unsqueeze(1))

    @torch.no_grad()
    def restart(self, dead: torch.Tensor, candidates: torch.Tensor) -> int:
        """Move the ``dead`` codes (a bool mask) onto random rows of ``candidates`` (recent
        encoder outputs), so they are used again; returns how many moved."""
        k = int(dead.sum())
        if k == 0 or len(candidates) == 0:
            return 0
        pick = candidates[torch.randint(0, len(candidates), (k,), device=candidates.device)]
        self.codebook[dead] = pick
        if self.ema:
            self.embed_sum[dead] = pick
            self.cluster_size[dead] = 1.0
        return k


class VQVAE(nn.Module):
    """Images: conv encoder to a grid of ``dim``-vectors (2x or 4x smaller than the image),
    quantised, conv decoder back. Points: an MLP to one vector, one code per point."""

    def __init__(self, data_shape: tuple, n_codes: int, dim: int, hidden: int, ema: bool):
        super().__init__()
        self.data_shape, self.images = tuple(data_shape), len(data_shape) == 3
        if self.images:
            c, h, w = data_shape
            self.down = 4 if min(h, w) >= 16 and h % 4 == 0 and w % 4 == 0 else 2
            ch = max(16, hidden // 4)
            layers = [nn.Conv2d(c, ch, 4, 2, 1), nn.ReLU()]
            if self.down == 4:
                layers += [nn.Conv2d(ch, ch, 4, 2, 1), nn.ReLU()]
            self.encoder = nn.Sequential(*layers, nn.Conv2d(ch, dim, 3, 1, 1))
            up = [nn.Conv2d(dim, ch, 3, 1, 1), nn.ReLU()]
            if self.down == 4:
                up += [nn.ConvTranspose2d(ch, ch, 4, 2, 1), nn.ReLU()]
            self.decoder = nn.Sequential(*up, nn.ConvTranspose2d(ch, c, 4, 2, 1))
        else:
            self.encoder = MLP(data_shape[0], dim, hidden)
            self.decoder = MLP(dim, data_shape[0], hidden)
        self.vq = VectorQuantiser(n_codes, dim, ema)

    def encode(self, x):
        """z_e: (N, H', W', D) for images (channels last, one vector per position), (N, D) for points."""
        z = self.encoder(x)
        return z.permute(0, 2, 3, 1) if self.images else z

    def decode_codes(self, z_q):
        """Decoder output (Bernoulli logits for images, points themselves) from quantised vectors."""
        return self.decoder(z_q.permute(0, 3, 1, 2) if self.images else z_q)

    def forward(self, x):
        """``(output, indices, codebook_loss, commitment)``."""
        z_q, idx, cb, commit = self.vq(self.encode(x))
        return self.decode_codes(z_q), idx, cb, commit

    def code_shape(self) -> tuple:
        """The shape of one example's code grid: (H', W') for images, () for points."""
        if not self.images:
            return ()
        _, h, w = self.data_shape
        return (h // self.down, w // self.down)

    def decode_indices(self, idx):
        """Decoder output for a grid of code indices (N, *code_shape)."""
        return self.decode_codes(self.vq.codebook[idx])
