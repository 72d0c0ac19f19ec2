"""DDPM's variational bound as a held-out likelihood: each term checked against a hand computation
with torch.distributions, the bound against an exact likelihood, its stratified estimate against
the full sum, and the held-out figures of trained runs on points and images."""
import math

import pytest
import torch
from conftest import registry_with
from torch.distributions import Normal, kl_divergence

from visgen.core.likelihood import heldout_nll
from visgen.core.run import Run
from visgen_ddpm import bound
from visgen_ddpm.schedules import Schedule, betas_for


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def make_run(stop_runs):
    reg = registry_with("ddpm")

    def make(dataset, n=2000, **params):
        opts = {"n": n} if reg.dataset(dataset).kind == "points" else {}
        run = Run(reg, "ddpm", dataset, params=params, device="cpu", threads=1, dataset_options=opts)
        stop_runs(run)
        return run
    return make


class Recorder:
    """A stand-in network with a fixed output (0.3 x_t + 0.1 t) that keeps every (x_t, t) it was asked at."""

    def __init__(self):
        self.calls = []

    def __call__(self, x_t, t):
        self.calls.append((x_t.clone(), t.clone()))
        return 0.3 * x_t + 0.1 * t.view(-1, 1).double()


def test_each_term_is_the_hand_computed_kl_of_ho_et_al():
    T = 4
    sched = Schedule("linear", T)
    x0 = torch.tensor([[0.5, -1.0], [2.0, 0.25], [-0.3, 0.0]], dtype=torch.float64)
    net = Recorder()
    got = bound.variational_bound(net, sched, x0, generator=torch.Generator().manual_seed(3))

    beta = betas_for("linear", T)
    ab = torch.cumprod(1 - beta, 0)
    ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
    var = lambda i: beta[i] * (1 - ab_prev[i]) / (1 - ab[i])     # beta_tilde  # noqa: E731

    def posterior_mean(x_0, x_t, i):                                 # mean of q(x_{t-1} | x_t, x_0)
        return (ab_prev[i].sqrt() * beta[i] * x_0 + (1 - beta[i]).sqrt() * (1 - ab_prev[i]) * x_t) / (1 - ab[i])

    def model_mean(x_t, i):  # the posterior mean at x_0 predicted from the net's noise
        eps = net(x_t, torch.full((len(x_t),), i))
        return posterior_mean((x_t - (1 - ab[i]).sqrt() * eps) / ab[i].sqrt(), x_t, i)

    want = kl_divergence(Normal(ab[-1].sqrt() * x0, (1 - ab[-1]).sqrt()), Normal(0.0, 1.0)).sum(1)  # L_T
    calls = list(net.calls)
    assert [int(t[0]) for _, t in calls] == [0, 1, 2, 3]             # L_0, then t = 2..T, each once
    for x_t, t in calls:
        i = int(t[0])
        if i == 0:                                                   # L_0: Gaussian decoder, variance beta_tilde_2
            want = want - Normal(model_mean(x_t, 0), var(1).sqrt()).log_prob(x0).sum(1)
        else:                                                        # L_{t-1}
            q = Normal(posterior_mean(x0, x_t, i), var(i).sqrt())
            want = want + kl_divergence(q, Normal(model_mean(x_t, i), var(i).sqrt())).sum(1)
    assert got.shape == (3,)
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-9)


def test_the_bound_is_above_the_exact_nll_with_the_ideal_denoiser():
    """Data N(0, I): x_t ~ N(0, I) too, and the ideal denoiser is eps = sqrt(1 - ab_t) x_t."""
    sched = Schedule("linear", 100)
    x0 = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def ideal(x_t, t):
        return (1 - sched.at(sched.f64.alpha_bar, t, 2)).sqrt() * x_t

    L = bound.variational_bound(ideal, sched, x0, generator=torch.Generator().manual_seed(0))
    nll = 0.5 * (x0 ** 2).sum(1) + math.log(2 * math.pi)
    gap = float((L - nll).mean())
    # measured 2.8 nats: the sampler's variance beta_tilde_t is narrower than this data's true
    # reverse step (beta_t); with beta_t in its place the gap closes to within noise
    assert 1 < gap < 5


def test_the_stratified_estimate_is_unbiased_and_exact_with_one_timestep_per_stratum():
    sched = Schedule("linear", 40)
    x0 = torch.full((20000, 2), 0.7, dtype=torch.float64)         # one point, many draws

    def eps(x_t, t):
        return 0.5 * x_t

    run = lambda k, seed: bound.variational_bound(eps, sched, x0, k, torch.Generator().manual_seed(seed))  # noqa: E731
    full = run(None, 0)
    assert torch.equal(run(39, 0), full)                           # 39 strata of 2..40: all terms
    estimate = run(3, 1)
    se = math.hypot(*(float(v.std()) / math.sqrt(len(v)) for v in (estimate, full)))
    assert abs(float(estimate.mean()) - float(full.mean())) < 4 * se
    # it is an estimate: noisier per example (measured std 11.8 against 6.6 nats; log-scale strata)
    assert float(estimate.std()) > 1.3 * float(full.std())


def test_training_on_points_lowers_the_heldout_bound(make_run):
    run = make_run("ring8", T=200, hidden=64, batch_size=128)
    run.build()
    before = heldout_nll(run.trainer, run.heldout)
    run.train(300)
    rng = torch.get_rng_state()
    after = heldout_nll(run.trainer, run.heldout)
    assert torch.equal(torch.get_rng_state(), rng)                 # training's random stream untouched
    assert heldout_nll(run.trainer, run.heldout) == after          # one fixed draw: repeatable
    assert after["likelihood"] == "bound" and after["heldout_examples"] == 200
    assert math.isfinite(after["bits_per_dim"])
    # measured: 11.9-12.0 bits/dim at step 0, 6.2-6.7 after 300 steps (ring8, moons; two seeds)
    assert before["bits_per_dim"] - after["bits_per_dim"] > 2.5


def test_images_report_a_bound_in_bits_per_dim(make_run):
    run = make_run("digits", T=50, hidden=16, conditional=True)   # the null label: a bound on log p(x)
    run.train(5)
    out = heldout_nll(run.trainer, run.heldout)
    assert out["likelihood"] == "bound" and out["heldout_examples"] == 179
    assert math.isfinite(out["bits_per_dim"]) and out["bits_per_dim"] > 0
