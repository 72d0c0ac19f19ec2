"""The diffusion plugin: schedules and the forward process checked against closed forms,
DDPM / DDIM samplers checked against an exact Gaussian model, guidance, predictions,
every view, parameter errors, the loss falling, and the command line."""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import registry_with, wait_for

from visgen import Bars, Curves, Field2D, FrameSequence, ImageGrid, ParamError, Scatter
from visgen.core.run import Run, RunState
from visgen_ddpm import objective, samplers
from visgen_ddpm.denoisers import MLPDenoiser, UNet
from visgen_ddpm.samplers import ddim_step, ddim_timesteps, ddpm_step, ddpm_timesteps
from visgen_ddpm.schedules import Schedule, betas_for
from visgen.core.live_metrics import EVERY as COVERAGE_EVERY
from visgen_ddpm.views import BUCKETS

SCHEDULES = ("linear", "cosine")
SMALL = {"T": 100, "hidden": 64, "batch_size": 128}   # cheap views: T network calls per sample


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def ddpm_registry():
    return registry_with("ddpm")


@pytest.fixture
def make_run(ddpm_registry, stop_runs):
    def make(dataset="ring8", seed=0, n=None, **params):
        ds = ddpm_registry.dataset(dataset)
        opts = {"n": n or 4000} if ds.kind == "points" else {}
        run = Run(ddpm_registry, "ddpm", dataset, params=params, seed=seed, device="cpu", threads=1,
                  dataset_options=opts)
        stop_runs(run)
        return run
    return make


def _alpha_bar64(kind, T):
    """alpha_bar from betas_for, with the cumulative product written out in float64."""
    betas = betas_for(kind, T).double().numpy()
    out, prod = np.empty(T), 1.0
    for i, b in enumerate(betas):
        prod *= 1.0 - b
        out[i] = prod
    return out


def _load(registry, name):
    """A dataset as its registered loader makes it (default size and seed)."""
    from visgen.core.spec import resolve
    return resolve(registry.dataset(name).loader)()


def _ts(labels):
    """Frame labels 't = 17 ...' -> [17, ...]."""
    return [int(re.match(r"\s*t = (\d+)", s).group(1)) for s in labels]


# -- schedules and the forward process -----------------------------------------------------
@pytest.mark.parametrize("kind", SCHEDULES)
def test_forward_process_ends_in_standard_noise(ddpm_registry, kind):
    T = 1000
    sched = Schedule(kind, T)
    ab_last = float(sched.alpha_bar[-1])
    assert ab_last < 1e-4                                # the data term is negligible at t = T-1
    gen = torch.Generator().manual_seed(0)
    ring = _load(ddpm_registry, "ring8")
    x_ring = torch.as_tensor(ring.x / ring.x.std())      # standardised as the trainer does
    digits = _load(ddpm_registry, "digits")
    x_dig = torch.as_tensor(digits.x * 2 - 1).flatten(1).repeat(8, 1)   # [-1, 1], 8 noise draws each
    for x0 in (x_ring, x_dig):
        n = len(x0)
        eps = torch.randn(x0.shape, generator=gen)
        xt = sched.q_sample(x0, torch.full((n,), T - 1), eps).double()
        data_term = math.sqrt(ab_last) * x0.abs().max().item()
        mean, std = xt.mean(0), xt.std(0)
        # 5 standard errors (the max over up to 64 dimensions stays far inside), plus the data term
        assert mean.abs().max() < 5 / math.sqrt(n) + data_term, mean
        assert (std - 1).abs().max() < 5 / math.sqrt(2 * n) + data_term, std


@pytest.mark.parametrize("kind", SCHEDULES)
def test_q_sample_is_the_closed_form(kind):
    T = 1000
    sched = Schedule(kind, T)
    ab = _alpha_bar64(kind, T)
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(T).repeat(3)                         # every t, three times
    x0 = 2 * torch.randn(len(t), 2, generator=gen)
    eps = torch.randn(len(t), 2, generator=gen)
    got = sched.q_sample(x0, t, eps).double().numpy()
    a = ab[t.numpy()][:, None]
    want = np.sqrt(a) * x0.double().numpy() + np.sqrt(1 - a) * eps.double().numpy()
    # float32 alpha_bar: sqrt(1 - ab) is ~3e-4 off relatively where 1 - ab ~ 4e-5 (t = 0, cosine)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)
    # images: the same per-sample coefficient broadcasts over (C, H, W)
    img = torch.randn(4, 1, 8, 8, generator=gen)
    e = torch.randn(4, 1, 8, 8, generator=gen)
    ti = torch.tensor([0, 10, 500, T - 1])
    got = sched.q_sample(img, ti, e).double().numpy()
    a = ab[ti.numpy()][:, None, None, None]
    np.testing.assert_allclose(got, np.sqrt(a) * img.double().numpy() + np.sqrt(1 - a) * e.double().numpy(),
                               rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("T", (10, 100, 1000))
def test_alpha_bar_strictly_decreasing_inside_the_unit_interval(kind, T):
    for ab in (Schedule(kind, T).alpha_bar.double().numpy(), _alpha_bar64(kind, T)):
        assert ab.shape == (T,)
        assert (np.diff(ab) < 0).all()
        assert (ab > 0).all() and (ab < 1).all()
    s = Schedule(kind, T)
    assert torch.all((s.betas > 0) & (s.betas <= 0.999))
    # the float32 copy is the float64 product rounded (not a product of rounded factors)
    np.testing.assert_allclose(s.alpha_bar.double().numpy(), _alpha_bar64(kind, T), rtol=1e-6, atol=0)


def test_linear_betas_run_from_1e4_to_002():
    b = betas_for("linear", 1000)
    assert b.dtype == torch.float64 and b.shape == (1000,)
    assert b[0].item() == pytest.approx(1e-4, abs=1e-12) and b[-1].item() == pytest.approx(0.02, abs=1e-12)
    assert (b.diff() > 0).all()
    assert torch.allclose(b.diff(), torch.full((999,), (0.02 - 1e-4) / 999, dtype=torch.float64))
    # at T = 1000 the end of the chain is almost pure noise
    assert Schedule("linear", 1000).alpha_bar[-1].item() == pytest.approx(4.0e-5, rel=0.05)


@pytest.mark.parametrize("T", (10, 100, 1000))
def test_cosine_alpha_bar_matches_the_formula(T):
    s = 0.008
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2   # noqa: E731
    ab = Schedule("cosine", T).alpha_bar.double().numpy()
    clipped = (betas_for("cosine", T) >= 0.999).numpy()
    first_clipped = int(np.argmax(clipped)) if clipped.any() else T
    assert first_clipped >= T - 1                            # only the last beta may hit the clip
    for i in range(first_clipped):                           # alpha_bar[i] is alpha-bar at step i + 1
        assert abs(ab[i] - f(i + 1) / f(0)) < 1e-6, (i, ab[i], f(i + 1) / f(0))


# -- samplers -------------------------------------------------------------------------------
def _toy_net(seed=0):
    torch.manual_seed(seed)
    net = MLPDenoiser((2,), hidden=32).eval()
    return lambda x, t: net(x, t)


def test_ddim_with_eta_zero_is_deterministic():
    sched = Schedule("linear", 100)
    model = _toy_net()
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(3))
    outs = [samplers.sample(model, sched, (64, 2), "ddim", 10, 0.0, x_T=x_T,
                            generator=torch.Generator().manual_seed(seed))[0] for seed in (1, 1, 2)]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])   # no noise drawn at all
    assert not torch.equal(outs[0], x_T) and torch.isfinite(outs[0]).all()
    other = samplers.sample(model, sched, (64, 2), "ddim", 10, 0.0, x_T=x_T + 0.1)[0]
    assert not torch.allclose(other, outs[0])                # the start noise does matter


def test_ddim_with_eta_above_zero_is_stochastic():
    sched = Schedule("linear", 100)
    model = _toy_net()
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(3))

    def run(seed, eta=0.5):
        return samplers.sample(model, sched, (64, 2), "ddim", 10, eta, x_T=x_T,
                               generator=torch.Generator().manual_seed(seed))[0]
    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a, b)                                  # the generator is the only randomness
    assert (a - c).abs().mean() > 1e-3


def _gaussian_eps(sched, mu, s):
    """The exact eps predictor for x0 ~ N(mu, s^2 I): E[eps | x_t]."""
    def eps(x, t):
        ab = sched.alpha_bar[t].view(-1, *[1] * (x.dim() - 1))
        return (1 - ab).sqrt() * (x - ab.sqrt() * mu) / (ab * s * s + 1 - ab)
    return eps


def _propagate(kind, T, ts, eta, mu, s):
    """Exact mean and std of the sampler's output for the Gaussian eps model: every step is
    x_s = A x_t + B + sigma z, so mean and variance follow in closed form (float64)."""
    ab = _alpha_bar64(kind, T)
    m, v = 0.0, 1.0
    for i, t in enumerate(ts):
        a_t = ab[t]
        a_s = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
        c = math.sqrt(1 - a_t) / (a_t * s * s + 1 - a_t)        # eps = c (x - sqrt(a_t) mu)
        sig = eta * math.sqrt((1 - a_s) / (1 - a_t)) * math.sqrt(1 - a_t / a_s) if i + 1 < len(ts) else 0.0
        k = math.sqrt(max(1 - a_s - sig ** 2, 0.0))
        A = math.sqrt(a_s) * (1 - math.sqrt(1 - a_t) * c) / math.sqrt(a_t) + k * c
        B = math.sqrt(a_s) * math.sqrt(1 - a_t) * c * mu - k * c * math.sqrt(a_t) * mu
        m, v = A * m + B, A * A * v + sig ** 2
    return m, math.sqrt(v)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_ddim_with_every_step_and_eta_one_is_ddpm(kind):
    T, N, mu, s = 20, 20000, 1.5, 0.5
    sched = Schedule(kind, T)
    model = _gaussian_eps(sched, mu, s)
    assert ddim_timesteps(T, T) == ddpm_timesteps(T)
    g = lambda seed: torch.Generator().manual_seed(seed)   # noqa: E731
    ddpm = samplers.sample(model, sched, (N, 1), "ddpm", generator=g(0))[0]
    same = samplers.sample(model, sched, (N, 1), "ddim", T, 1.0, generator=g(0))[0]
    # the same mean and sigma written two ways, the same noise: equal up to float32 rounding
    assert torch.allclose(ddpm, same, rtol=0, atol=1e-5), (ddpm - same).abs().max()
    ddim = samplers.sample(model, sched, (N, 1), "ddim", T, 1.0, generator=g(1))[0]
    m, sd = _propagate(kind, T, ddpm_timesteps(T), 1.0, mu, s)
    for x in (ddpm, ddim):                                # independent draws match the exact law
        assert abs(x.mean().item() - m) < 5 * sd / math.sqrt(N)
        assert abs(x.std().item() / sd - 1) < 5 / math.sqrt(2 * N)
    assert abs(ddpm.mean().item() - ddim.mean().item()) < 5 * sd * math.sqrt(2 / N)
    assert abs(ddpm.std().item() / ddim.std().item() - 1) < 5 * math.sqrt(1 / N)
    assert not torch.equal(ddpm, ddim)
    # deterministic DDIM has its own exact law (a wider one than ancestral at T = 20)
    det = samplers.sample(model, sched, (N, 1), "ddim", T, 0.0, generator=g(2))[0]
    m0, sd0 = _propagate(kind, T, ddim_timesteps(T, T), 0.0, mu, s)
    assert abs(det.mean().item() - m0) < 5 * sd0 / math.sqrt(N)
    assert abs(det.std().item() / sd0 - 1) < 5 / math.sqrt(2 * N)
    assert abs(m - mu) < 1e-3 and 0.3 < sd < s            # 20 steps: the mean is right, the std short


def test_samplers_recover_gaussian_data_with_many_steps():
    """With T = 1000 the exact eps model gives back N(mu, s^2): DDPM to within 1 % in std,
    50-step deterministic DDIM to within its discretisation error (exact law: std 0.472, mean
    off by 0.3 % of mu, the start x_T ~ N(0, I) ignoring sqrt(ab_T) mu); both match that law."""
    T, N, mu, s = 1000, 20000, torch.tensor([1.5, -0.5]), 0.5
    sched = Schedule("linear", T)
    model = _gaussian_eps(sched, mu, s)
    gen = torch.Generator().manual_seed(0)
    for sampler, steps, eta, tol_m, tol_s in (("ddpm", T, 1.0, 1e-4, 0.01), ("ddim", 50, 0.0, 5e-3, 0.06)):
        x = samplers.sample(model, sched, (N, 2), sampler, steps, eta, generator=gen)[0]
        ts = ddpm_timesteps(T) if sampler == "ddpm" else ddim_timesteps(T, steps)
        for d in range(2):
            m, sd = _propagate("linear", T, ts, eta, mu[d].item(), s)
            assert abs(m - mu[d].item()) < tol_m and abs(sd / s - 1) < tol_s, (sampler, m, sd)
            assert abs(x[:, d].mean().item() - m) < 5 * sd / math.sqrt(N), sampler
            assert abs(x[:, d].std().item() / sd - 1) < 5 / math.sqrt(2 * N), sampler
            assert abs(x[:, d].mean().item() - mu[d].item()) < 5 * s / math.sqrt(N) + tol_m, sampler
            assert abs(x[:, d].std().item() / s - 1) < 5 / math.sqrt(2 * N) + tol_s, sampler


def _ddpm_law(kind, T, mu, s):
    """Exact mean and std of DDPM's output for the Gaussian eps model, written as the notes write
    the step: x_{t-1} = (x_t - beta_t / sqrt(1 - ab_t) eps) / sqrt(alpha_t) + sigma_t z, sigma_t^2 =
    beta_tilde_t = (1 - ab_{t-1}) / (1 - ab_t) beta_t, z = 0 at t = 0 (float64)."""
    betas, ab = betas_for(kind, T).double().numpy(), _alpha_bar64(kind, T)
    m, v = 0.0, 1.0
    for t in ddpm_timesteps(T):
        c = math.sqrt(1 - ab[t]) / (ab[t] * s * s + 1 - ab[t])        # eps = c (x - sqrt(ab_t) mu)
        k = betas[t] / math.sqrt(1 - ab[t])
        A, B = (1 - k * c) / math.sqrt(1 - betas[t]), k * c * math.sqrt(ab[t]) * mu / math.sqrt(1 - betas[t])
        var = (1 - ab[t - 1]) / (1 - ab[t]) * betas[t] if t > 0 else 0.0
        m, v = A * m + B, A * A * v + var
    return m, math.sqrt(v)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_ddim_with_eta_one_is_ddpm_in_closed_form(kind):
    """The Theory panel's claim, in exact arithmetic: DDIM with every step and eta = 1 has DDPM's
    mean and sigma, so both chains give the same law."""
    for T in (20, 200):
        for mu in (1.5, -0.5):
            ddpm, ddim = _ddpm_law(kind, T, mu, 0.5), _propagate(kind, T, ddpm_timesteps(T), 1.0, mu, 0.5)
            assert ddpm == pytest.approx(ddim, rel=1e-9, abs=1e-12), (T, mu)


def test_ddpm_and_ddim_eta_one_sample_the_same_gaussian():
    """On x0 ~ N(mu, s^2 I) the ideal noise predictor is known, so no training is needed: DDPM
    (T ancestral steps) and DDIM (T steps, eta = 1), with independent noise, both give the exact
    law of the chain and agree with each other. At T = 200 that law is N(mu, (0.483)^2): beta_tilde
    is the spread for a known x_0 and misses the doubt about x_0 (sigma^2 = beta_t would give 0.504)."""
    T, N, mu, s = 200, 20000, torch.tensor([1.5, -0.5]), 0.5
    sched = Schedule("linear", T)
    model = _gaussian_eps(sched, mu, s)
    out = {name: samplers.sample(model, sched, (N, 2), name, T, 1.0, generator=torch.Generator().manual_seed(seed))[0]
           for name, seed in (("ddpm", 0), ("ddim", 1))}
    assert not torch.allclose(out["ddpm"], out["ddim"])           # independent draws
    for d in range(2):
        m, sd = _ddpm_law("linear", T, mu[d].item(), s)
        assert abs(m - mu[d].item()) < 1e-4 and abs(sd / s - 1) < 0.04
        for name, x in out.items():
            mean, std = x[:, d].mean().item(), x[:, d].std().item()
            assert abs(mean - m) < 5 * sd / math.sqrt(N), (name, d, mean, m)      # the exact law, tightly
            assert abs(std / sd - 1) < 5 / math.sqrt(2 * N), (name, d, std, sd)
            assert abs(mean - mu[d].item()) < 5 * s / math.sqrt(N) + 1e-4, (name, d, mean)   # ... and the data
            assert abs(std / s - 1) < 5 / math.sqrt(2 * N) + 0.04, (name, d, std)
        a, b = out["ddpm"][:, d], out["ddim"][:, d]
        assert abs(a.mean().item() - b.mean().item()) < 5 * sd * math.sqrt(2 / N)   # and each other
        assert abs(a.std().item() / b.std().item() - 1) < 5 * math.sqrt(1 / N)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_ddpm_step_is_the_posterior_mean_plus_sigma_z(kind):
    """One ancestral step against the formula written out in float64, and against DDIM's step to
    s = t - 1 with eta = 1 and the same noise z (the first draw of the generator)."""
    T = 100
    sched = Schedule(kind, T)
    betas, ab = betas_for(kind, T).double(), torch.as_tensor(_alpha_bar64(kind, T))
    model = _toy_net(2)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    gen = lambda: torch.Generator().manual_seed(5)   # noqa: E731
    for t in (0, 1, 37, T - 1):
        eps = model(x, torch.full((64,), t)).double()
        z = torch.randn(x.shape, generator=gen()).double()
        mean = (x.double() - betas[t] / (1 - ab[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
        sigma = ((1 - ab[t - 1]) / (1 - ab[t]) * betas[t]).sqrt() if t > 0 else 0.0   # beta_tilde; none at t = 0
        got = ddpm_step(model, sched, x, t, gen())
        want = mean + sigma * z
        assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-5), (t, (got - want).abs().max())
        # the notes' DDPM step and DDIM with eta = 1 from t to t - 1 are one update
        ddim = ddim_step(model, sched, x, t, t - 1, 1.0, gen())
        assert torch.allclose(got, ddim, rtol=1e-5, atol=1e-5), (t, (got - ddim).abs().max())
        if t == 0:   # the last step adds no noise
            assert torch.equal(got, ddpm_step(model, sched, x, t, torch.Generator().manual_seed(6)))
            assert torch.allclose(got.double(), mean, rtol=1e-5, atol=1e-5)
        else:
            assert not torch.allclose(got, ddpm_step(model, sched, x, t, torch.Generator().manual_seed(6)))


def test_ddpm_sampling_takes_every_ancestral_step(monkeypatch):
    """sampler="ddpm" runs ddpm_step at t = T-1, ..., 0 (and no DDIM step); "ddim" the other way."""
    calls = []

    def spy(name):
        real = getattr(samplers, name)

        def step(model, sched, x, t, *rest):
            calls.append((name, t))
            return real(model, sched, x, t, *rest)
        return step
    for name in ("ddpm_step", "ddim_step"):
        monkeypatch.setattr(samplers, name, spy(name))
    sched = Schedule("linear", 20)
    samplers.sample(_toy_net(), sched, (8, 2), "ddpm", steps=5, eta=0.0)
    assert calls == [("ddpm_step", t) for t in range(19, -1, -1)]
    calls.clear()
    samplers.sample(_toy_net(), sched, (8, 2), "ddim", steps=5, eta=0.0)
    assert calls == [("ddim_step", t) for t in ddim_timesteps(20, 5)]
    with pytest.raises(ValueError, match="sampler"):
        samplers.sample(_toy_net(), sched, (8, 2), "euler")


@pytest.mark.parametrize("T", (10, 100, 1000))
def test_timesteps_run_from_T_minus_1_to_0(T):
    assert ddpm_timesteps(T) == list(range(T - 1, -1, -1))
    for steps in (1, 2, 10, 20, 50, T):
        ts = ddim_timesteps(T, steps)
        assert len(ts) == min(steps, T), (steps, ts)
        assert ts[0] == T - 1                       # start from pure noise, even with one step
        if steps > 1:
            assert ts[-1] == 0                      # ... and finish at the first step
        assert all(a > b for a, b in zip(ts, ts[1:])), ts   # strictly decreasing: no duplicates
        assert all(isinstance(t, int) for t in ts)
    assert ddim_timesteps(T, 1) == [T - 1]          # one step: T-1 straight to x0_hat
    assert ddim_timesteps(T, T) == ddpm_timesteps(T)
    assert ddim_timesteps(T, 10 * T) == ddpm_timesteps(T)   # more steps than T: all of them
    if T >= 100:                                    # evenly spaced: gaps differ by at most one
        gaps = np.diff(ddim_timesteps(T, 10))
        assert gaps.max() - gaps.min() <= 1


def test_the_last_step_goes_to_clean_data():
    sched = Schedule("cosine", 100)
    model = _toy_net(1)
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    for t in (0, 37, 99):
        tt = torch.full((32,), t)
        ab = sched.alpha_bar[t]
        x0_hat = (x - (1 - ab).sqrt() * model(x, tt)) / ab.sqrt()
        for eta in (0.0, 1.0):                       # s = -1: ab_s = 1, sigma = 0, no noise added
            out = ddim_step(model, sched, x, t, -1, eta, torch.Generator().manual_seed(5))
            assert torch.allclose(out, x0_hat, rtol=1e-5, atol=1e-5), (t, eta)
    # a one-step DDIM sample is x0_hat at T-1
    out, frames = samplers.sample(model, sched, (32, 2), "ddim", 1, 0.0, x_T=x, record=2)
    ab = sched.alpha_bar[99]
    x0_hat = (x - (1 - ab).sqrt() * model(x, torch.full((32,), 99))) / ab.sqrt()
    assert torch.allclose(out, x0_hat, rtol=1e-5, atol=1e-5)
    assert [t for t, _ in frames] == [100, 0] and torch.equal(frames[0][1], x)


# -- the trainer: guidance and predictions -----------------------------------------------------
def test_guidance_mixes_conditional_and_unconditional(make_run):
    run = make_run("ring8", conditional=True, hidden=32, prediction="v", T=50)
    run.build()
    tr = run.trainer
    assert tr.conditional and tr.n_classes == 8
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=gen)
    t = torch.randint(0, 50, (64,), generator=gen)
    labels = torch.arange(64) % 8
    null = torch.full_like(labels, 8)                 # the null token is n_classes
    with torch.no_grad():
        for net in (tr.net, tr.ema):
            e_c = objective.to_eps(tr.sched, "v", net(x, t, labels), x, t)
            e_u = objective.to_eps(tr.sched, "v", net(x, t, null), x, t)
            assert (e_c - e_u).abs().mean() > 1e-3    # the label changes the prediction
            for w, want in ((0.0, e_u), (1.0, e_c), (3.0, e_u + 3 * (e_c - e_u))):
                tr.set_params({"guidance": w})
                got = tr.eps_model(labels, net=net if net is tr.net else None)(x, t)
                assert torch.allclose(got, want, rtol=1e-5, atol=1e-5), (w, (got - want).abs().max())


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("prediction", ("eps", "x0", "v"))
def test_predictions_convert_back_to_the_noise(make_run, prediction, kind):
    run = make_run("ring8", hidden=32, prediction=prediction, schedule=kind)
    run.build()
    tr = run.trainer
    T = tr.sched.T
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(T)                               # every t, the near-clean ones included
    x0 = tr.data.x[torch.randint(0, len(tr.data.x), (T,), generator=gen)]
    eps = torch.randn(T, 2, generator=gen)
    x_t = tr.sched.q_sample(x0, t, eps)
    target = objective.target(tr.sched, prediction, x0, eps, t)
    if prediction != "eps":
        assert not torch.allclose(target, eps)
    a = torch.as_tensor(_alpha_bar64(kind, T))[:, None]
    want = {"eps": eps, "x0": x0, "v": a.sqrt() * eps - (1 - a).sqrt() * x0}[prediction]   # v: Salimans & Ho
    assert torch.allclose(target.double(), want.double(), rtol=1e-5, atol=1e-5)
    back = objective.to_eps(tr.sched, prediction, target, x_t, t)
    # x0: dividing by sqrt(1 - ab) ~ 0.006 at t = 0 amplifies float32 rounding to ~1e-5
    assert torch.allclose(back, eps, rtol=1e-4, atol=1e-4), (back - eps).abs().max()


# -- training and every view -----------------------------------------------------------------
def _check_views(run, registry):
    decls = run.views  # what the run feeds: the model's views and the runtime's (coverage)
    assert decls
    seen = {}
    for decl in decls:
        snap = run.trainer.snapshot(decl.id)
        seen[decl.id] = snap
        if decl.id == "likelihood" and run.step < 250:
            continue  # the runtime measures it every 250 steps (tests/test_live_likelihood.py)
        if decl.kind == "lines" and decl.scalars:
            assert snap is None, decl.id
            missing = set(decl.scalars) - set(run.scalars.names)
            assert not missing, f"{decl.id}: scalars {missing} never streamed"
            continue
        types = tuple(registry.view_kinds[decl.kind].snapshot_types)
        assert types, decl.kind
        assert isinstance(snap, types), f"{decl.id}: {type(snap).__name__} is not one of {types}"
    assert run.trainer.snapshot("no-such-view") is None
    return seen


def _check_common(seen, tr, T):
    fwd = seen["forward"]
    assert isinstance(fwd, FrameSequence)
    assert _ts(fwd.labels) == list(range(T))          # T <= 200: a frame for every t
    rev = seen["reverse"]
    ts = _ts(rev.labels)
    assert ts[0] == T and ts[-1] == 0                 # pure noise -> data
    assert all(a >= b for a, b in zip(ts, ts[1:]))
    sched = seen["schedule"]
    assert isinstance(sched, Curves) and set(sched.ys) == {"beta_t", "alpha_bar_t", "SNR_t"}
    assert len(sched.x) == T and all(len(v) == T for v in sched.ys.values())
    assert np.allclose(sched.ys["alpha_bar_t"], tr.sched.alpha_bar.numpy())
    assert np.allclose(sched.ys["SNR_t"], sched.ys["alpha_bar_t"] / (1 - sched.ys["alpha_bar_t"]), rtol=1e-4)
    bars = seen["loss_by_t"]
    assert isinstance(bars, Bars) and len(bars.values) == BUCKETS == 10 and len(bars.labels) == 10
    assert np.isfinite(bars.values).all() and (bars.values > 0).all()   # every bucket has been seen
    cmp = seen["sampler_compare"]
    assert isinstance(cmp, Bars) and len(cmp.values) == 2 and (cmp.values > 0).all()
    assert cmp.labels[0].startswith(f"DDPM {T} steps") and cmp.labels[1].startswith("DDIM")
    return fwd, rev


def test_ring8_trains_and_feeds_every_view(make_run, ddpm_registry):
    run = make_run("ring8", seed=1, **SMALL)
    run.train(2 * COVERAGE_EVERY)    # the runtime measures coverage every 250 steps, budget allowing
    assert run.step == 2 * COVERAGE_EVERY and run.state == RunState.PAUSED and run.status.message == ""
    loss = run.scalars.series(["loss"])["loss"][1]
    assert len(loss) == 2 * COVERAGE_EVERY and np.isfinite(loss).all()
    cov = run.scalars.series(["modes_covered", "high_quality"])
    assert list(cov["modes_covered"][0])[0] == COVERAGE_EVERY
    assert set(cov["modes_covered"][0]) <= {COVERAGE_EVERY, 2 * COVERAGE_EVERY}
    assert 0 <= cov["modes_covered"][1][0] <= 8 and 0 <= cov["high_quality"][1][0] <= 1
    seen = _check_views(run, ddpm_registry)
    assert {"coverage", "samples2d", "field"} <= set(seen)
    tr = run.trainer
    fwd, rev = _check_common(seen, tr, 100)
    # taken while training: the reverse process is a preview that follows 250 of the 500 points
    assert fwd.points.shape == (100, 500, 2) and rev.points.shape[1:] == ((250 if rev.preview else 500), 2)
    assert fwd.point_labels is not None and fwd.point_labels.shape == (500,)
    r = np.linalg.norm(fwd.points[0], axis=1)         # t = 0: still on the ring of radius 2
    assert abs(r.mean() - 2) < 0.15
    last = fwd.points[-1] / tr.scale                  # t = T-1: standard noise
    assert np.abs(last.mean(0)).max() < 0.25 and np.abs(last.std(0) - 1).max() < 0.15
    n = rev.points.shape[1]
    assert np.allclose(rev.points[0], tr.fixed_points[:n].numpy() * tr.scale, atol=1e-5)   # starts at x_T
    scatter = seen["samples2d"]
    # samples first, data drawn over them (small and dark, so dense samples do not hide it)
    assert isinstance(scatter, Scatter) and [p.name for p in scatter.series] == ["samples", "data"]
    assert scatter.series[0].xy.shape == (500, 2) and np.isfinite(scatter.series[0].xy).all()
    tr.set_params({"sampler": "ddim", "sample_steps": 20, "eta": 0.0})   # deterministic: the two views
    rev20, scatter20 = tr.snapshot("reverse"), tr.snapshot("samples2d")   # share the sampler and x_T
    assert _ts(rev20.labels)[0] == 100 and _ts(rev20.labels)[-1] == 0
    assert np.allclose(scatter20.series[0].xy, rev20.points[-1], atol=1e-5)
    field = seen["field"]
    assert isinstance(field, Field2D) and field.values.shape == (24, 24) and np.isfinite(field.values).all()
    assert field.vectors[0].origins.shape == (576, 2)
    assert tr.sample(10).shape == (10, 2)


def test_digits_unet_trains_and_feeds_every_view(make_run, ddpm_registry):
    run = make_run("digits", T=100, hidden=64, batch_size=32)
    run.train(30)
    assert run.step == 30 and run.status.message == ""
    tr = run.trainer
    assert isinstance(tr.net, UNet)                   # auto: the U-Net for images
    seen = _check_views(run, ddpm_registry)
    assert {v.id for v in run.spec.views_for("images")} == {
        "losses", "reverse", "forward", "forward_strip", "samples", "schedule", "loss_by_t", "sampler_compare"}
    fwd, rev = _check_common(seen, tr, 100)
    assert fwd.images.shape[0] == 100 and rev.images.shape[1:] == fwd.images.shape[1:]
    assert fwd.images[0].std() > 0.1                  # digits at t = 0, noise at t = T-1: both vary
    strip = seen["forward_strip"]
    assert isinstance(strip, ImageGrid) and strip.images.shape == (80, 8, 8) and strip.nrow == 10
    # column 0 is t = 0: the image plus noise of std sqrt(1 - ab_0) / 2 ~ 0.016 on [0, 1]
    diff = np.abs(strip.images[0] - (tr.view_x0[0, 0].numpy() + 1) / 2)
    assert diff.mean() < 0.03 and diff.max() < 0.1
    assert np.abs(strip.images[9] - (tr.view_x0[0, 0].numpy() + 1) / 2).mean() > 0.2   # t = T-1: noise
    samples = seen["samples"]
    assert isinstance(samples, ImageGrid) and samples.images.shape == (64, 8, 8)
    s = tr.sample(8)
    assert s.shape == (8, 1, 8, 8) and 0 <= s.min() and s.max() <= 1


def test_views_stream_through_the_worker(make_run):
    run = make_run("ring8", T=20, hidden=32, batch_size=64)
    run.request("schedule")
    run.request("reverse")
    run.step_once()
    wait_for(lambda: run.slots.pending() >= 2, what="schedule and reverse snapshots")
    run.stop().result(timeout=10)
    sched, rev = run.take("schedule"), run.take("reverse")
    assert isinstance(sched, Curves) and len(sched.x) == 20 and sched.step == 1
    assert isinstance(rev, FrameSequence) and _ts(rev.labels)[0] == 20 and rev.step == 1
    assert run.step == 1 and "loss" in run.scalars.names


# -- regressions: labels, small data, odd widths, bucket edges -------------------------------------
def test_reverse_frame_labels_count_down_without_repeats(make_run):
    run = make_run("ring8", T=20, hidden=32)
    run.build()
    ts = _ts(run.trainer.snapshot("reverse").labels)       # DDPM, 20 steps, all recorded
    assert ts == list(range(20, -1, -1))


def test_forward_view_on_a_small_data_set(make_run):
    run = make_run("ring8", n=300, T=20, hidden=32)
    run.build()
    fwd = run.trainer.snapshot("forward")
    assert fwd.points.shape == (20, 270, 2)  # every training point: 300 less the held-out tenth


def test_unet_builds_for_any_valid_hidden(make_run):
    run = make_run("digits", hidden=100)                   # 12 channels: GroupNorm(8, 12) is refused
    try:
        run.build()
    except ParamError:
        return                                              # a clear refusal would also do
    assert isinstance(run.trainer.net, UNet)


def test_loss_by_t_labels_match_the_buckets(make_run):
    T = 15
    run = make_run("ring8", T=T, hidden=32)
    run.build()
    bars = run.trainer.snapshot("loss_by_t")
    starts = [int(re.match(r"\s*(\d+)", lab).group(1)) for lab in bars.labels]
    assert starts == [min(t for t in range(T) if t * BUCKETS // T == k) for k in range(BUCKETS)]


# -- parameters -------------------------------------------------------------------------------
def test_structural_mistakes_raise_param_error(make_run):
    with pytest.raises(ParamError, match="unet"):
        make_run("ring8", denoiser="unet").build()
    with pytest.raises(ParamError, match="label"):
        make_run("swissroll", conditional=True).build()
    run = make_run("swissroll", hidden=32)            # the same data without labels is fine
    run.build()
    assert run.trainer.n_classes == 0


def test_kind_defaults(make_run):
    for dataset, batch, lr in (("digits", 128, 1e-3), ("ring8", 512, 2e-3)):
        run = make_run(dataset)
        assert run.params.values["batch_size"] == batch and run.params.values["lr"] == lr, dataset
        run.build()
        assert run.trainer.params["batch_size"] == batch
        assert run.trainer.opt.param_groups[0]["lr"] == lr
    run = make_run("digits", batch_size=64, lr=5e-4)  # an explicit value beats the kind default
    assert run.params.values["batch_size"] == 64 and run.params.values["lr"] == 5e-4


def test_loss_falls_with_default_settings(make_run):
    # Default training parameters; only the (live, sampling-only) sampler is switched to 10-step
    # DDIM (sampling only): the runtime's coverage checks use at most sample_steps DDIM steps.
    run = make_run("ring8", seed=0, n=20000, sampler="ddim", sample_steps=10)
    defaults = {p.name: p.default_for("points") for p in run.spec.params}
    assert {k: v for k, v in run.params.values.items() if k not in ("sampler", "sample_steps")} == \
        {k: v for k, v in defaults.items() if k not in ("sampler", "sample_steps")}
    run.train(1500)
    assert run.step == 1500 and run.status.message == ""
    loss = run.scalars.series(["loss"])["loss"][1]
    first, last = loss[:50].mean(), loss[-100:].mean()
    # measured (seeds 0 and 1): first 50 ~0.395, last 100 ~0.19
    assert last < 0.7 * first, (first, last)
    assert last < 0.25


# -- the command line --------------------------------------------------------------------------
def _env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("VISGEN_DISABLE_PLUGIN_AUTOLOAD", "VISGEN_BLOCK_PLUGINS")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def visgen(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "visgen.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=_env())


def _ms_per_sample(proc):
    m = re.search(r"([0-9.]+) ms per sample", proc.stdout)
    assert m, proc.stdout
    return float(m.group(1))


def test_cli_trains_and_samples_with_both_samplers(tmp_path):
    out = tmp_path / "D"
    proc = visgen("train", "ddpm", "--dataset", "ring8", "--steps", 300, "--set", "sampler=ddim",
                  "--set", "sample_steps=20", "--out", out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 300 and summary["model"] == "ddpm"
    assert 0 <= summary["modes_covered"] <= 8 and 0 <= summary["high_quality"] <= 1
    times = {}
    for name, settings in (("ddpm", ["sampler=ddpm"]), ("ddim", ["sampler=ddim", "sample_steps=20"])):
        csv = tmp_path / f"{name}.csv"
        proc = visgen("sample", out, "--n", 200, *[a for s in settings for a in ("--set", s)], "--out", csv)
        assert proc.returncode == 0, proc.stderr
        assert "ms per sample" in proc.stdout
        times[name] = _ms_per_sample(proc)
        pts = np.loadtxt(csv, delimiter=",", skiprows=1)
        assert pts.shape == (200, 2) and np.isfinite(pts).all()
    # T = 1000 network passes against 20: ~40-50x measured; 5x leaves room for a loaded machine
    assert times["ddim"] * 5 < times["ddpm"], times
    proc = visgen("sample", out, "--set", "hidden=64", "--out", tmp_path / "c.csv")
    assert proc.returncode == 2 and "hidden" in proc.stderr, proc.stderr
    assert not (tmp_path / "c.csv").exists()
