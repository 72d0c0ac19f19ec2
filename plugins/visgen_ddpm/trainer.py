"""The diffusion trainer: the training step and sampling. The maths lives in
``schedules`` (forward process), ``objective`` (what the net predicts) and
``samplers`` (DDPM and DDIM); the views in ``views``."""
from __future__ import annotations

import copy
import math

import torch

from visgen import ParamError, Trainer, to_numpy
from visgen.nn import BatchSampler, dequantise, set_lr

from . import bound, objective, samplers
from .denoisers import MLPDenoiser, UNet
from .schedules import Schedule
from .views import PREVIEW_STEPS, DiffusionViews

# KL terms per example of the held-out bound: the full sum for T <= 1001 (digits' 179 held-out
# images: 14 s on one CPU core), beyond it a stratified estimate from this many timesteps, so
# a larger T costs no more evaluation time.
BOUND_TERMS = 1000
# The live curve while training (``previewing``): 25 strata, 40x cheaper, the same bound on average.
LIVE_BOUND_TERMS = 25


class DDPMTrainer(DiffusionViews, Trainer):
    """Denoising score matching: minimise || target - net(x_t, t, y) ||^2 with t ~ U{0..T-1}."""

    likelihood = "bound"

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
        self.init_views(ctx.seed)

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
        set_lr(self.opt, self.params["lr"])

    # -- training ------------------------------------------------------------------------
    def step(self, phase=None):
        p = self.params
        x0, y = self.data.batch(p["batch_size"])
        t = torch.randint(0, self.sched.T, (len(x0),), device=self.device)
        eps = torch.randn_like(x0)
        x_t = self.sched.q_sample(x0, t, eps)
        if self.conditional:  # label dropout: the same net also learns the unconditional model
            drop = torch.rand(len(y), device=self.device) < p["p_uncond"]
            y = torch.where(drop, torch.full_like(y, self.n_classes), y)
        target = objective.target(self.sched, p["prediction"], x0, eps, t)
        err = (self.net(x_t, t, y) - target).pow(2).flatten(1).mean(1)
        loss = err.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            for e, w in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(w, 1 - p["ema"])
            self.track_loss_by_t(t, err)
        return {"loss": loss.item()}

    # -- likelihood --------------------------------------------------------------------
    def log_likelihood(self, x):
        """Minus DDPM's variational bound (``bound``) from the EMA weights, which samples come
        from: a lower bound on log p(x) in nats, in data units. Images are dequantised (one fixed
        draw, so it also bounds the 8-bit image's log-probability + D log 256); a conditional
        model is asked with the null label, so this bounds log p(x), not log p(x | y). x_t is
        drawn from a generator of its own: repeatable numbers, training's random stream untouched.
        While ``previewing`` (the live curve) the sum over t is a stratified estimate."""
        if self.autoencoder is not None:
            raise NotImplementedError("latent diffusion would bound the likelihood of the VAE's codes, not of the images")
        d = math.prod(x.shape[1:])
        if self.images:  # pixels to [-1, 1]: |dx0/dx| = 2 per pixel
            x0, log_jacobian = dequantise(x, 256, seed=0) * 2 - 1, d * math.log(2)
        else:
            x0, log_jacobian = x / self.scale, -d * math.log(self.scale)
        null = torch.full((len(x),), self.n_classes, device=self.device) if self.conditional else None
        kind = self.params["prediction"]

        def eps(x_t, t):
            return objective.to_eps(self.sched, kind, self.ema(x_t.float(), t, null).double(), x_t, t)

        gen = torch.Generator(device=self.device).manual_seed(0)
        terms = LIVE_BOUND_TERMS if self.previewing else BOUND_TERMS
        return -bound.variational_bound(eps, self.sched, x0, terms, gen) + log_jacobian

    # -- sampling ----------------------------------------------------------------------
    def eps_model(self, labels=None, net=None):
        """eps(x_t, t) from ``net`` (default: the EMA weights), with classifier-free guidance
        eps_u + w (eps_c - eps_u) when conditional."""
        net = net or self.ema
        kind, w = self.params["prediction"], self.params["guidance"]

        def eps(x, t):
            if not self.conditional:
                return objective.to_eps(self.sched, kind, net(x, t), x, t)
            null = torch.full_like(labels, self.n_classes)  # one batch: conditional and unconditional
            x2, t2 = torch.cat([x, x]), torch.cat([t, t])
            e_c, e_u = objective.to_eps(self.sched, kind, net(x2, t2, torch.cat([labels, null])), x2, t2).chunk(2)
            return e_u + w * (e_c - e_u)  # classifier-free guidance
        return eps

    def labels_for(self, n):
        """Labels 0, 1, ..., 0, 1, ... for n samples of a conditional model (None otherwise)."""
        return (torch.arange(n, device=self.device) % max(self.n_classes, 1)) if self.conditional else None

    def run_sampler(self, n=None, x_T=None, record=0, sampler=None, steps=None, eta=None, preview=False):
        """Sample n points (or denoise x_T) with the learner's sampler settings unless overridden
        (``preview``: the views' settings, which may be a cheaper stand-in while training)."""
        d_sampler, d_steps, d_eta = self.view_sampler() if preview else self.sampler_choice()
        n = n if x_T is None else len(x_T)
        return samplers.sample(self.eps_model(self.labels_for(n)), self.sched, (n, *self.space_shape),
                               sampler or d_sampler, steps or d_steps, d_eta if eta is None else eta,
                               x_T=x_T, record=record, device=self.device)

    def sampler_choice(self) -> tuple:
        """(sampler, steps, eta) as the learner set them."""
        p = self.params
        return p["sampler"], p["sample_steps"], p["eta"]

    def view_sampler(self) -> tuple:
        """(sampler, steps, eta) for the views: the learner's choice, except while training when
        it takes more than PREVIEW_STEPS steps; then a PREVIEW_STEPS-step DDIM stand-in (with
        eta = 1 for DDPM, whose steps are all noisy), named by ``preview_note``."""
        sampler, steps, eta = self.sampler_choice()
        if not self.previewing or self.sampler_steps(sampler, steps) <= PREVIEW_STEPS:
            return sampler, steps, eta
        return "ddim", PREVIEW_STEPS, 1.0 if sampler == "ddpm" else eta

    def preview_note(self) -> str:
        """What a view's picture is, when it is a preview ("" otherwise)."""
        sampler, steps, eta = self.sampler_choice()
        v_sampler, v_steps, v_eta = self.view_sampler()
        if (v_sampler, v_steps, v_eta) == (sampler, steps, eta):
            return ""
        return (f"preview while training: {v_steps}-step DDIM, eta = {v_eta:g} "
                f"(pause for {sampler.upper()} with {self.sampler_steps(sampler, steps)} steps)")

    def sampler_steps(self, sampler: str, steps: int) -> int:
        return self.sched.T if sampler == "ddpm" else min(steps, self.sched.T)

    def timesteps(self, preview: bool = False) -> list[int]:
        """The timesteps the sampler visits, from T - 1 down to 0 (``preview``: the views' sampler)."""
        sampler, steps, _ = self.view_sampler() if preview else self.sampler_choice()
        return (samplers.ddpm_timesteps(self.sched.T) if sampler == "ddpm"
                else samplers.ddim_timesteps(self.sched.T, steps))

    def to_data(self, x):
        """From the diffused space back to data: decode codes, rescale points, map pixels to [0, 1]."""
        if self.autoencoder is not None:
            return self.autoencoder.decode(to_numpy(x * self.scale))
        return to_numpy((x.clamp(-1, 1) + 1) / 2) if self.images else to_numpy(x * self.scale)

    @torch.no_grad()
    def sample(self, n):
        x, _ = self.run_sampler(n)
        return self.to_data(x)

    def sample_for_metrics(self, n):
        """Deterministic DDIM (at most 50 steps) on the EMA weights: live coverage stays cheap
        whatever sampler the learner picked (DDPM's 1,000 steps would cost 20x more)."""
        with self.evaluation():
            x, _ = self.run_sampler(n, sampler="ddim", steps=min(self.params["sample_steps"], 50), eta=0.0)
        return self.to_data(x)
