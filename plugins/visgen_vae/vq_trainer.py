"""Training step and views of the VQ-VAE."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from visgen import PALETTE, Bars, ImageGrid, PointSet, Scatter, Trainer, class_color, to_numpy
from visgen.nn import BatchSampler, set_lr

from .vq import VQVAE

N_VIEW = 1000        # training examples the usage histogram and the code map are taken on
USAGE_WINDOW = 200   # steps: a code unused for this long is dead (restarted when dead_restart is on)


class VQVAETrainer(Trainer):
    """Adam on reconstruction + codebook loss (or EMA codebook) + beta * commitment."""

    no_likelihood_why = ("a VQ-VAE is an autoencoder with a discrete code: without a prior fitted "
                         "over its codes it defines no density p(x)")

    def __init__(self, ctx):
        super().__init__(ctx)
        p, data = self.params, self.dataset
        self.images = data.kind == "images"
        self.model = VQVAE(data.image_shape, p["codes"], p["code_dim"], p["hidden"], p["codebook"] == "ema").to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p["lr"])
        self.data = BatchSampler(data.x, data.labels, self.device)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.view_idx = torch.randperm(len(data), generator=gen)[:N_VIEW].to(self.device)
        # the step each code was last chosen; set at the first step, which after loading a
        # checkpoint is not step 0 (else every code would look dead at once and be restarted)
        self.last_used = None
        self.restarted = 0

    def set_params(self, changed):
        super().set_params(changed)
        set_lr(self.opt, self.params["lr"])

    def _recon_loss(self, out, x):
        """-log p(x|z_q) per example: Bernoulli on images (as the VAE), squared error on points."""
        if self.images:
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1).mean()
        return (out - x).pow(2).sum(1).mean()

    def step(self, phase=None):
        p = self.params
        x, _ = self.data.batch(p["batch_size"])
        z_e = self.model.encode(x)
        z_q, idx, cb, commit = self.model.vq(z_e)
        recon = self._recon_loss(self.model.decode_codes(z_q), x)
        loss = recon + cb + p["commitment"] * commit  # L = recon + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        used = torch.bincount(idx.flatten(), minlength=p["codes"])
        if self.last_used is None:
            self.last_used = torch.full((p["codes"],), self.step_count, dtype=torch.long, device=self.device)
        self.last_used[used > 0] = self.step_count
        dead = self.step_count - self.last_used >= USAGE_WINDOW
        if p["dead_restart"] and dead.any():
            self.restarted += self.model.vq.restart(dead, z_e.detach().reshape(-1, p["code_dim"]))
            self.last_used[dead] = self.step_count
            dead = self.step_count - self.last_used >= USAGE_WINDOW
        probs = used.float() / used.sum()
        perplexity = math.exp(-(probs[probs > 0] * probs[probs > 0].log()).sum().item())  # exp H(codes in the batch)
        return {"recon": recon.item(), "commitment": commit.item(), "codebook_loss": cb.item(),
                "perplexity": perplexity, "dead_codes": int(dead.sum())}

    # -- views ------------------------------------------------------------------
    def _view_codes(self):
        x = self.data.x[self.view_idx]
        return x, self.model(x)[1]

    def view_usage(self):
        _, idx = self._view_codes()
        counts = torch.bincount(idx.flatten(), minlength=self.params["codes"]).float()
        share = to_numpy(counts / counts.sum())
        unused = share == 0
        return Bars([str(k) for k in range(len(share))], share, marked=unused,
                    y_label=f"share of codes chosen, {int((~unused).sum())}/{len(share)} used "
                            f"(on {len(self.view_idx)} training examples)")

    def view_recon(self):
        x = self.data.x[self.view_idx[:32]]
        rec = torch.sigmoid(self.model(x)[0])
        rows = [torch.cat([x[i:i + 8], rec[i:i + 8]]) for i in range(0, 32, 8)]
        return ImageGrid.from_chw(to_numpy(torch.cat(rows)), nrow=8, title="odd rows: input, even rows: reconstruction")

    def view_code_map(self):
        """Images beside their code grid, each code index in its own colour (up-scaled to the image)."""
        x = self.data.x[self.view_idx[:8]]
        idx = to_numpy(self.model(x)[1]).astype(int)
        palette = np.array([class_color(k) for k in range(self.params["codes"])], np.float32) / 255
        maps = palette[idx]  # (8, H', W', 3)
        s = self.model.down
        maps = maps.repeat(s, 1).repeat(s, 2)
        gray = np.repeat(to_numpy(x[:, :1]).transpose(0, 2, 3, 1), 3, axis=3)
        pairs = np.stack([gray, maps], 1).reshape(-1, *gray.shape[1:])
        repeat = "" if self.params["codes"] <= len(PALETTE) else f"; colours repeat after {len(PALETTE)} codes"
        return ImageGrid(pairs, nrow=8, title=f"image, then its {idx.shape[1]}x{idx.shape[2]} code grid "
                                             f"(a colour per code{repeat})")

    def view_samples(self):
        idx = torch.randint(0, self.params["codes"], (64, *self.model.code_shape()), device=self.device,
                            generator=torch.Generator(self.device).manual_seed(0))
        x = torch.sigmoid(self.model.decode_indices(idx))
        return ImageGrid.from_chw(to_numpy(x), nrow=8,
                                  title="codes drawn uniformly at random: no prior over codes is fitted yet, "
                                        "so these are not samples of the data")

    def view_points(self):
        x = self.data.x[self.view_idx]
        out, idx, _, _ = self.model(x)
        centres = to_numpy(self.model.decode_codes(self.model.vq.codebook))
        return Scatter([PointSet("data", to_numpy(x), color=(150, 150, 150), size=3),
                        PointSet("reconstruction", to_numpy(out), to_numpy(idx).astype(int), size=4),
                        PointSet("decoded codes", centres, color=(0, 0, 0), size=11)],
                       x_label="x1", y_label="x2")

    @torch.no_grad()
    def sample(self, n):
        """Decoded codes drawn uniformly (no prior over codes yet): what the decoder makes of
        any code, not a model of the data."""
        idx = torch.randint(0, self.params["codes"], (n, *self.model.code_shape()), device=self.device)
        out = self.model.decode_indices(idx)
        return to_numpy(torch.sigmoid(out) if self.images else out)
