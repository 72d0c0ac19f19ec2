"""Held-out likelihood, one way for every family: the data set aside is never trained on, the
numbers are per data point in nats and bits per dimension, and each says exact, bound or none."""
import math

import numpy as np
import pytest
import torch
from conftest import registry_with

from visgen.core.dataset import Dataset
from visgen.core.likelihood import bits_per_dim, heldout_nll, split_heldout
from visgen.core.run import Run


def points(n):
    return Dataset("p", "points", np.random.default_rng(0).normal(size=(n, 2)))


def test_split_keeps_a_seeded_tenth_aside_and_trains_on_the_rest():
    data = points(500)
    train, held = split_heldout(data, seed=1)
    assert (len(train), len(held)) == (450, 50)
    rows = {tuple(r) for r in train.x} | {tuple(r) for r in held.x}
    assert len(rows) == 500                                    # disjoint, and nothing lost
    again, _ = split_heldout(data, seed=1)
    assert np.array_equal(again.x, train.x)                    # the seed decides
    assert not np.array_equal(split_heldout(data, seed=2)[0].x, train.x)
    tiny, none = split_heldout(points(5), seed=0)              # too small to spare any
    assert none is None and len(tiny) == 5


def test_a_run_trains_only_on_its_training_part():
    run = Run(registry_with("vae"), "vae", "ring8", params={"hidden": 32}, dataset_options={"n": 400})
    run.build()
    assert len(run.dataset) == 360 and len(run.heldout) == 40
    seen = {tuple(r) for r in run.trainer.data.x.numpy()}
    assert not seen & {tuple(r) for r in run.heldout.x}


def test_bits_per_dim_conventions():
    img = Dataset("i", "images", np.zeros((1, 1, 2, 2)))
    # a uniform density on [0, 1]^4 costs 8 bits per 8-bit pixel
    assert bits_per_dim(0.0, img) == pytest.approx(8.0)
    assert bits_per_dim(2 * math.log(2), points(3)) == pytest.approx(1.0)


class Gaussian2D:
    """A trainer stand-in: the standard normal density, known in closed form."""
    likelihood, device = "exact", torch.device("cpu")

    def evaluation(self):
        import contextlib
        return contextlib.nullcontext()

    def log_likelihood(self, x):
        return -0.5 * (x ** 2).sum(1) - math.log(2 * math.pi)


def test_heldout_nll_is_the_mean_negative_log_likelihood():
    held = points(300)
    out = heldout_nll(Gaussian2D(), held, chunk=64)
    want = -np.mean(-0.5 * (held.x.astype(np.float64) ** 2).sum(1) - math.log(2 * math.pi))
    assert out["likelihood"] == "exact" and out["heldout_examples"] == 300
    assert out["nll_nats"] == pytest.approx(want, rel=1e-6)
    assert out["bits_per_dim"] == pytest.approx(want / (2 * math.log(2)), rel=1e-6)


def test_a_model_without_likelihood_says_so():
    class GAN:
        likelihood = None
    assert heldout_nll(GAN(), points(10)) == {"likelihood": None, "why": "this model has no likelihood"}
    gan = Run(registry_with("gan"), "gan", "ring8", dataset_options={"n": 400})
    gan.build()
    out = heldout_nll(gan.trainer, gan.heldout)
    assert out["likelihood"] is None and "implicit" in out["why"]       # no invented number


def test_vae_elbo_is_a_bound_for_a_gaussian_decoder_and_none_for_bernoulli_on_grey_pixels():
    run = Run(registry_with("vae"), "vae", "ring8", params={"hidden": 32}, dataset_options={"n": 400})
    run.train(200)
    out = heldout_nll(run.trainer, run.heldout)
    assert out["likelihood"] == "bound" and math.isfinite(out["nll_nats"])
    digits = Run(registry_with("vae"), "vae", "digits", params={"hidden": 32})
    digits.build()
    assert heldout_nll(digits.trainer, digits.heldout)["likelihood"] is None


def test_the_gaussian_baseline_is_exact_for_gaussian_data():
    from visgen.core.likelihood import gaussian_nll

    rng = np.random.default_rng(3)
    train = Dataset("g", "points", rng.normal(size=(20000, 2)) * [2.0, 0.5])
    held = Dataset("g", "points", rng.normal(size=(20000, 2)) * [2.0, 0.5])
    want = math.log(2 * math.pi) + math.log(2.0 * 0.5) + 1.0   # entropy of N(0, diag(4, 0.25))
    assert gaussian_nll(train, held) == pytest.approx(want, abs=0.03)


def test_a_plugin_extra_cannot_pass_for_the_heldout_likelihood(tmp_path):
    """pixelcnn once reported its training NLL under nll_nats, overwriting the held-out figure."""
    import json

    from visgen.cli.main import main

    out = tmp_path / "p"
    assert main(["train", "pixelcnn", "--dataset", "digits", "--steps", "20", "--set", "channels=8",
                 "--set", "layers=1", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["likelihood"] == "exact" and s["heldout_examples"] == 179
    assert s["bits_per_dim"] == pytest.approx(s["nll_nats"] / (64 * math.log(2)) + 8, rel=1e-6)  # 8-bit convention
    # the model's own figure, on its 2 levels, sits beside it under its own name: spreading each
    # level over half the grey range costs 7 of the 8 bits, so the two are about 7 apart
    assert s["bits_per_dim"] - s["train_levels_bits_per_dim"] == pytest.approx(7, abs=0.5)


def test_iwae_with_one_sample_is_the_elbo_and_tightens_with_k():
    run = Run(registry_with("vae"), "vae", "digits", params={"hidden": 64, "likelihood": "gaussian"})
    run.train(600)
    got = {}
    for k in (1, 8, 64):
        run.trainer.set_params({"iwae_k": k})
        got[k] = heldout_nll(run.trainer, run.heldout)
    one = got[1]
    assert one["likelihood"] == "bound" and one["iwae_nll_nats"] == pytest.approx(one["neg_elbo_nats"], abs=1e-9)
    assert one["nll_nats"] == one["iwae_nll_nats"]                  # the reported number is the IWAE bound
    # Measured (seed 0): NLL bound -16.65 (K = 1), -17.04 (K = 8), -17.32 (K = 64) nats per image
    assert got[8]["iwae_nll_nats"] < one["iwae_nll_nats"] - 0.2
    assert got[64]["iwae_nll_nats"] < got[8]["iwae_nll_nats"] - 0.1
    assert got[64]["iwae_nll_nats"] <= got[64]["neg_elbo_nats"]     # never looser than the ELBO
    assert 0 < got[64]["bits_per_dim"] < 8                          # better than a uniform density


def test_both_vae_bounds_sit_below_the_exact_log_likelihood_of_a_linear_gaussian_model():
    """A VAE with a linear decoder is a factor analyser: p(x) = N(b, W W^T + diag(s^2)) exactly.
    The ELBO lies below log p(x) and the IWAE bound closes the gap as K grows."""
    from visgen_vae.model import VAE

    torch.manual_seed(0)
    vae = VAE((2,), latent_dim=1, hidden=8, arch="mlp", likelihood="gaussian")
    vae.decoder = torch.nn.Linear(1, 2)
    with torch.no_grad():
        vae.log_var_x.fill_(math.log(0.1))
    x = torch.tensor([[0.3, -0.2], [1.0, 0.5]])
    W, b = vae.decoder.weight.detach().double(), vae.decoder.bias.detach().double()
    exact = torch.distributions.MultivariateNormal(b, W @ W.T + 0.1 * torch.eye(2)).log_prob(x.double())
    with torch.no_grad():
        log_w = vae.log_weights(x, 20000, generator=torch.Generator().manual_seed(1)).double()
    elbo = log_w.mean(0)
    iwae = torch.logsumexp(log_w, 0) - math.log(len(log_w))
    assert (elbo < exact).all()
    assert (iwae <= exact + 0.02).all() and torch.allclose(iwae, exact, atol=0.05), (iwae, exact)


def test_a_loaded_run_keeps_the_heldout_part_it_was_trained_without(tmp_path):
    """Loading a run to sample with another seed must not move its held-out tenth: the data
    it was never trained on is chosen by the training run's seed, kept in config.json."""
    import subprocess
    import sys

    from visgen import load_run

    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "visgen.cli.main", "train", "vae", "--dataset", "ring8",
                    "--steps", "3", "--seed", "3", "--out", str(out)], check=True, capture_output=True)
    run = load_run(out, seed=0)
    run.build()
    trained = Run(registry_with("vae"), "vae", "ring8", seed=3)
    trained.build()
    assert np.array_equal(run.heldout.x, trained.heldout.x)
    other = Run(registry_with("vae"), "vae", "ring8", seed=0)
    other.build()
    assert not np.array_equal(run.heldout.x, other.heldout.x)   # the test could tell them apart


def test_a_dear_likelihood_stops_near_its_time_budget_and_shows_progress():
    """Chunks grow from 16, so a model costing 10 ms per example stops after about the budget,
    not after a whole 256-example chunk (2.6 s); and the caller hears of each chunk."""
    import time

    from visgen.core.likelihood import mean_nll

    class Slow(Gaussian2D):
        def log_likelihood(self, x):
            time.sleep(0.01 * len(x))
            return super().log_likelihood(x)

    heard = []
    t0 = time.perf_counter()
    _, n, _ = mean_nll(Slow(), points(1000).x, budget=0.3, progress=lambda done, total: heard.append(done))
    spent = time.perf_counter() - t0
    assert n == 16 + 32 and spent < 1.0, (n, spent)       # 0.16 s after 16, 0.48 s after 48: stop
    assert heard == [16, 48]
    # the same chunks whatever the timing: a seeded model gives the same number each time
    assert mean_nll(Gaussian2D(), points(1000).x, budget=60)[1] == 1000
