"""The GAN family plugin: nine models, one trainer, losses checked by hand, phases, views."""
import math

import numpy as np
import pytest
from conftest import registry_with, wait_for
import torch
from torch import nn

from visgen import Field2D, Histogram, ImageGrid, ParamError, VisgenError
from visgen.core.snapshots import ViewProblem
from visgen.core.run import Run, RunState
from visgen_gan import losses
from visgen.core.live_metrics import EVERY as COVERAGE_EVERY

MODELS = ("gan", "dcgan", "wgan", "wgan-gp", "lsgan", "cgan", "unrolled-gan", "pacgan", "mbstd-gan")
SMALL = {"hidden": 64, "batch_size": 64}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def gan_registry():
    return registry_with("gan")


@pytest.fixture
def make_run(gan_registry, stop_runs):
    def make(model, dataset=None, seed=0, **params):
        ds = gan_registry.dataset(dataset or gan_registry.model(model).default_dataset)
        opts = {"n": 4000} if ds.kind == "points" else {}
        run = Run(gan_registry, model, dataset, params=params, seed=seed, device="cpu", threads=1,
                  dataset_options=opts)
        stop_runs(run)
        return run
    return make




def params_of(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def changed(a, b):
    return [k for k in a if not torch.equal(a[k], b[k])]


# -- every model trains and feeds every view it declares --------------------------------------
STEPS = {"gan": 250, "dcgan": 40, "wgan": 250, "wgan-gp": 250, "lsgan": 250, "cgan": 250,
         "unrolled-gan": 250, "pacgan": 250, "mbstd-gan": 250}


def _check_views(run, registry):
    kind = run.dataset.kind
    decls = run.views  # what the run feeds: the model's views and the runtime's (coverage)
    assert decls
    seen = {}
    for decl in decls:
        snap = run.trainer.snapshot(decl.id)
        seen[decl.id] = snap
        if decl.id == "likelihood":  # the runtime's: a GAN has none, and the view says why
            said = run.take("likelihood")
            assert isinstance(said, ViewProblem) and "implicit" in said.message, said
            continue
        if decl.kind == "lines" and decl.scalars:
            assert snap is None, decl.id                       # fed from the scalar stream
            missing = set(decl.scalars) - set(run.scalars.names)
            assert not missing, f"{decl.id}: scalars {missing} never streamed"
            continue
        types = tuple(registry.view_kinds[decl.kind].snapshot_types)
        assert types, decl.kind
        assert isinstance(snap, types), f"{decl.id}: {type(snap).__name__} is not one of {types}"
    assert run.trainer.G.training and run.trainer.D.training   # views restore train mode
    assert run.trainer.snapshot("no-such-view") is None
    return seen


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_and_feeds_its_views(make_run, gan_registry, model):
    params = {"batch_size": 32} if model == "dcgan" else {"hidden": 32, "batch_size": 32}
    run = make_run(model, seed=1, **params)
    n = STEPS[model]
    run.train(n)
    assert run.step == n and run.state == RunState.PAUSED and run.status.message == ""
    assert run.dataset_spec.name == run.spec.default_dataset
    for name, (steps, values) in run.scalars.series().items():
        assert np.isfinite(values).all(), name
    d_loss = run.scalars.series(["d_loss"])["d_loss"]
    assert len(d_loss[1]) == n
    seen = _check_views(run, gan_registry)
    scores = seen["scores"]
    assert isinstance(scores, Histogram) and len(scores.series) == 2
    judged = 512 // run.params.values["pack"]  # PacGAN's D scores packs of m samples
    assert all(len(s.values) == judged and np.isfinite(s.values).all() for s in scores.series)
    if run.dataset.kind == "points":
        assert n >= COVERAGE_EVERY                           # coverage scalars have appeared
        field = seen["decision"]
        assert isinstance(field, Field2D) and field.values.shape == (80, 80)
        assert np.isfinite(field.values).all()
        names = [p.name for p in field.points]
        assert names == ["real", "fake G(z)", "G(z grid)"]
        assert field.points[2].xy.shape == (15 * 2 * 60, 2)
        assert field.vectors[0].origins.shape == (100, 2) == field.vectors[0].directions.shape
        if run.trainer.kind == "bce":
            assert field.levels == (0.0, 1.0)
            assert 0 <= field.values.min() and field.values.max() <= 1
        assert run.trainer.sample(10).shape == (10, 2)
    if model in ("wgan", "wgan-gp"):
        assert "critic_gap" in run.scalars.names
    if model == "wgan-gp":
        gn = run.scalars.series(["grad_norm"])["grad_norm"][1]
        assert len(gn) == n and (gn > 0).all()


def test_dcgan_samples_are_64_images_in_unit_range(make_run):
    run = make_run("dcgan", batch_size=32)
    run.train(5)
    assert any(isinstance(m, nn.ConvTranspose2d) for m in run.trainer.G.modules())
    assert any(isinstance(m, nn.Conv2d) for m in run.trainer.D.modules())
    grid = run.trainer.snapshot("samples")
    assert isinstance(grid, ImageGrid) and grid.images.shape == (64, 8, 8)
    assert grid.nrow == 8
    s = run.trainer.sample(64)              # unclipped, unlike an ImageGrid
    assert s.shape == (64, 1, 8, 8) and 0 <= s.min() and s.max() <= 1
    assert s.std() > 0
    # the fixed-noise grid is G on fixed z, in eval mode: the same twice
    assert np.array_equal(run.trainer.snapshot("samples").images, grid.images)


def test_cgan_on_digits_streams_class_samples(make_run, gan_registry):
    run = make_run("cgan", "digits", **SMALL)
    run.train(30)
    assert run.trainer.n_classes == 10
    seen = _check_views(run, gan_registry)
    assert {v.id for v in run.spec.views_for("images")} == \
        {"losses", "samples", "class_samples", "scores", "score_means"}
    cs = seen["class_samples"]
    assert isinstance(cs, ImageGrid) and cs.nrow == 8
    assert cs.images.shape == (80, 8, 8)                 # 10 rows (classes) x 8 images
    tr = run.trainer
    with torch.no_grad():                                # row c is G(fixed z[:8], class c)
        tr.G.eval()
        for c in (0, 7):
            x = tr.G(tr.fixed_z[:8], tr.onehot(torch.full((8,), c)))
            want = np.clip(((x + 1) / 2).numpy()[:, 0], 0, 1)
            assert np.allclose(cs.images[8 * c:8 * c + 8], want, atol=1e-6)
        tr.G.train()
    assert not np.allclose(cs.images[:8], cs.images[8:16])   # the label changes the image
    assert seen["samples"].images.shape == (64, 8, 8) and seen["samples"].nrow == 10


def test_cgan_class_samples_stream_through_the_run(make_run):
    run = make_run("cgan", "digits", **SMALL)
    run.request("class_samples")
    run.step_once()
    taken = []
    wait_for(lambda: taken.append(run.take("class_samples")) or taken[-1] is not None,
             what="a class_samples snapshot")
    snap = taken[-1]
    run.stop().result(timeout=10)
    assert isinstance(snap, ImageGrid) and snap.step == 1
    assert snap.images.shape == (80, 8, 8) and snap.nrow == 8   # 10 rows of 8


# -- losses by hand ---------------------------------------------------------------------------
S_REAL, S_FAKE = [2.0, -1.0], [0.5, -3.0]


def _mean(v):
    return sum(v) / len(v)


def _softplus(s):
    return math.log(1 + math.exp(s))


EXPECTED_D = {
    "bce": _mean([_softplus(-s) for s in S_REAL]) + _mean([_softplus(s) for s in S_FAKE]),
    "wasserstein": _mean(S_FAKE) - _mean(S_REAL),
    "least-squares": 0.5 * _mean([(s - 1) ** 2 for s in S_REAL]) + 0.5 * _mean([s ** 2 for s in S_FAKE]),
}
EXPECTED_G = {
    ("bce", False): _mean([_softplus(-s) for s in S_FAKE]),
    ("bce", True): _mean([math.log(1 - 1 / (1 + math.exp(-s))) for s in S_FAKE]),   # mean log(1 - sigmoid)
    ("wasserstein", False): -_mean(S_FAKE),
    ("least-squares", False): 0.5 * _mean([(s - 1) ** 2 for s in S_FAKE]),
}


@pytest.mark.parametrize("kind", losses.KINDS)
def test_d_loss_matches_hand_computed(kind):
    got = losses.d_loss(kind, torch.tensor(S_REAL, dtype=torch.float64), torch.tensor(S_FAKE, dtype=torch.float64))
    assert got.dim() == 0
    assert got.item() == pytest.approx(EXPECTED_D[kind], rel=1e-12)


@pytest.mark.parametrize("kind,saturating", list(EXPECTED_G))
def test_g_loss_matches_hand_computed(kind, saturating):
    got = losses.g_loss(kind, torch.tensor(S_FAKE, dtype=torch.float64), saturating=saturating)
    assert got.item() == pytest.approx(EXPECTED_G[(kind, saturating)], rel=1e-12)


def test_hand_computed_values():
    """The numbers themselves, so a typo in the expectations above cannot hide."""
    assert EXPECTED_D["bce"] == pytest.approx(0.5 * (0.126928 + 1.313262) + 0.5 * (0.974077 + 0.048587), abs=1e-5)
    assert EXPECTED_D["wasserstein"] == pytest.approx(-1.75)
    assert EXPECTED_D["least-squares"] == pytest.approx(0.5 * 2.5 + 0.5 * 4.625)
    assert EXPECTED_G[("bce", True)] == pytest.approx(-0.5 * (0.974077 + 0.048587), abs=1e-5)
    assert EXPECTED_G[("bce", False)] == pytest.approx(0.5 * (0.474077 + 3.048587), abs=1e-5)
    assert EXPECTED_G[("wasserstein", False)] == pytest.approx(1.25)
    assert EXPECTED_G[("least-squares", False)] == pytest.approx(0.5 * (0.125 + 8.0))


def test_unknown_loss_kind_raises():
    t = torch.zeros(2)
    with pytest.raises(ValueError, match="hinge"):
        losses.d_loss("hinge", t, t)
    with pytest.raises(ValueError, match="hinge"):
        losses.g_loss("hinge", t)


def test_score_is_sigmoid_for_bce_only():
    s = torch.tensor([0.0, 2.0])
    assert torch.allclose(losses.score("bce", s), torch.tensor([0.5, 1 / (1 + math.exp(-2))]))
    assert torch.equal(losses.score("wasserstein", s), s)


# -- gradient penalty ----------------------------------------------------------------------------
def _linear_critic(norm):
    torch.manual_seed(0)
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.mul_(norm / critic.weight.norm())
    return critic


def test_gradient_penalty_is_zero_for_a_1_lipschitz_critic():
    critic = _linear_critic(1.0)
    torch.manual_seed(1)
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 3
    gp, mean_norm = losses.gradient_penalty(critic, real, fake)
    assert gp.item() < 1e-10
    assert mean_norm.item() == pytest.approx(1.0, abs=1e-6)


def test_gradient_penalty_for_a_3_lipschitz_critic():
    critic = _linear_critic(3.0)
    torch.manual_seed(2)
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    gp, mean_norm = losses.gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(4.0, rel=1e-5)
    assert mean_norm.item() == pytest.approx(3.0, rel=1e-6)
    gp.backward()                          # create_graph: the penalty trains the critic
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_gradient_penalty_on_images_with_a_condition():
    torch.manual_seed(0)
    lin = nn.Linear(16 + 3, 1)
    with torch.no_grad():
        lin.weight[:, :16].mul_(2.0 / lin.weight[:, :16].norm())   # norm 2 w.r.t. the image part

    def critic(x, onehot):
        return lin(torch.cat([x.flatten(1), onehot], 1)).squeeze(1)

    real, fake = torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    onehot = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])]
    gp, mean_norm = losses.gradient_penalty(critic, real, fake, onehot)
    assert mean_norm.item() == pytest.approx(2.0, rel=1e-6)       # grad w.r.t. x only
    assert gp.item() == pytest.approx(1.0, rel=1e-5)


# -- phases: step D only / step G only ---------------------------------------------------------
@pytest.mark.parametrize("model,params", [("gan", SMALL), ("dcgan", {"batch_size": 32})])
def test_step_one_side_only(make_run, model, params):
    run = make_run(model, **params)
    run.build()
    tr = run.trainer
    g0, d0 = params_of(tr.G), params_of(tr.D)
    out = tr.step("D")
    assert "d_loss" in out and "g_loss" not in out
    assert same(params_of(tr.G), g0)
    assert len(changed(d0, params_of(tr.D))) == len(d0)            # every D tensor moved
    g1, d1 = params_of(tr.G), params_of(tr.D)
    out = tr.step("G")
    assert "g_loss" in out and "d_loss" not in out
    assert same(params_of(tr.D), d1)
    assert changed(g1, params_of(tr.G))
    assert all(p.grad is None for p in tr.D.parameters())          # G's step leaves no grads in D
    # views (G.eval() / G.train()) never touch parameters
    g2, d2 = params_of(tr.G), params_of(tr.D)
    for v in run.spec.views_for(run.dataset.kind):
        tr.snapshot(v.id)
    tr.sample(16)
    assert same(params_of(tr.G), g2) and same(params_of(tr.D), d2)
    if model == "dcgan":   # batch norm buffers are not touched by views either (eval mode)
        bn = [m for m in tr.G.modules() if isinstance(m, nn.BatchNorm2d)][0]
        mean = bn.running_mean.clone()
        tr.snapshot("samples")
        tr.snapshot("scores")
        assert torch.equal(bn.running_mean, mean)


@pytest.mark.parametrize("model,params", [("gan", SMALL), ("dcgan", {"batch_size": 32})])
def test_step_once_phase_through_the_worker(make_run, model, params):
    run = make_run(model, **params)
    run.build()
    tr = run.trainer
    g0, d0 = params_of(tr.G), params_of(tr.D)
    run.step_once("D")
    wait_for(lambda: run.step == 1, what="the D step")
    run.stop().result(timeout=10)
    assert not run.alive and run.trainer is tr
    assert same(params_of(tr.G), g0) and changed(d0, params_of(tr.D))
    assert "d_loss" in run.scalars.names and "g_loss" not in run.scalars.names
    g1, d1 = params_of(tr.G), params_of(tr.D)
    run.step_once("G")
    wait_for(lambda: run.step == 2, what="the G step")
    run.stop().result(timeout=10)
    assert same(params_of(tr.D), d1) and changed(g1, params_of(tr.G))
    assert "g_loss" in run.scalars.names
    with pytest.raises(VisgenError, match="phase"):
        run.step_once("E")


# -- WGAN details ---------------------------------------------------------------------------------
def test_wgan_clips_the_critic_and_uses_rmsprop(make_run):
    run = make_run("wgan", **SMALL)
    run.build()
    tr = run.trainer
    clip = tr.params["clip"]
    assert 0 < clip < 0.1
    assert isinstance(tr.opt_d, torch.optim.RMSprop) and isinstance(tr.opt_g, torch.optim.RMSprop)
    assert max(p.abs().max().item() for p in tr.D.parameters()) > clip   # init is outside the box
    tr.step("D")
    for name, p in tr.D.named_parameters():
        assert p.abs().max().item() <= clip, name
    assert max(p.abs().max().item() for p in tr.D.parameters()) == pytest.approx(clip)
    run.train(3)                                           # full steps (5 D steps + 1 G step)
    assert all(p.abs().max().item() <= clip for p in tr.D.parameters())
    assert max(p.abs().max().item() for p in tr.G.parameters()) > clip   # G is never clipped
    assert run.set_param("clip", 0.005) is True            # live
    run.train(1)
    assert all(p.abs().max().item() <= 0.005 for p in tr.D.parameters())
    assert "grad_norm" not in run.scalars.names


@pytest.mark.parametrize("model", [m for m in MODELS if m != "wgan"])
def test_other_models_use_adam(make_run, model):
    run = make_run(model, **({"batch_size": 32} if model == "dcgan" else SMALL))
    run.build()
    assert isinstance(run.trainer.opt_d, torch.optim.Adam) and isinstance(run.trainer.opt_g, torch.optim.Adam)
    values = run.params.values
    assert run.trainer.opt_d.param_groups[0]["betas"] == (values["beta1"], values["beta2"])


def test_wgan_gp_reports_grad_norm(make_run):
    run = make_run("wgan-gp", **SMALL)
    run.train(2)
    gn = run.scalars.series(["grad_norm"])["grad_norm"][1]
    assert len(gn) == 2 and np.isfinite(gn).all() and (gn > 0).all()
    out = run.trainer.step("D")
    assert out["grad_norm"] > 0
    # d_loss includes the weighted penalty: it is not just the critic gap's negative
    assert out["d_loss"] != pytest.approx(-out["critic_gap"], abs=1e-9)
    run.trainer.set_params({"gp_weight": 0.0})
    out = run.trainer.step("D")
    assert "grad_norm" not in out
    assert out["d_loss"] == pytest.approx(-out["critic_gap"], rel=1e-5)


def test_wgan_streams_every_scalar_its_views_declare(make_run):
    run = make_run("wgan", **SMALL)
    run.train(2)
    declared = {s for v in run.spec.views_for("points") if v.kind == "lines" and v.id != "coverage"
                for s in v.scalars}
    assert declared <= set(run.scalars.names), declared - set(run.scalars.names)


# -- k discriminator steps ----------------------------------------------------------------------
def _count_steps(opt):
    calls = []
    orig = opt.step

    def step(*a, **k):
        calls.append(1)
        return orig(*a, **k)
    opt.step = step
    return calls


def test_d_steps_k(make_run):
    run = make_run("gan", **SMALL, d_steps=3)
    run.build()
    tr = run.trainer
    nd, ng = _count_steps(tr.opt_d), _count_steps(tr.opt_g)
    tr.step()
    assert (len(nd), len(ng)) == (3, 1)
    tr.step("D")                                   # a phase step is one step of one side, whatever k is
    assert (len(nd), len(ng)) == (4, 1)
    tr.step("G")
    assert (len(nd), len(ng)) == (4, 2)
    assert run.set_param("d_steps", 5) is True     # live
    run.train(1)
    assert (len(nd), len(ng)) == (9, 3)


def test_wgan_takes_k_critic_steps_by_default(make_run):
    run = make_run("wgan", **SMALL)
    run.build()
    k = run.params.values["d_steps"]
    assert k > 1                                   # WGAN trains the critic more than G
    nd, ng = _count_steps(run.trainer.opt_d), _count_steps(run.trainer.opt_g)
    run.train(2)
    assert (len(nd), len(ng)) == (2 * k, 2)


# -- spectral norm --------------------------------------------------------------------------------
def _linear_sigmas(d):
    was = d.training
    d.eval()                     # read the normalised weights without another power iteration
    with torch.no_grad():
        sig = [torch.linalg.matrix_norm(m.weight, ord=2).item() for m in d.modules() if isinstance(m, nn.Linear)]
    d.train(was)
    return sig


def test_spectral_norm_keeps_d_1_lipschitz(make_run):
    run = make_run("gan", **SMALL, spectral_norm=True)
    run.build()
    tr = run.trainer
    linears = [m for m in tr.D.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4 and all(hasattr(m, "parametrizations") for m in linears)
    for _ in range(20):
        tr.step("D")
    sig = _linear_sigmas(tr.D)
    # One power iteration per forward pass lags behind Adam's updates (measured: up to 1.33
    # after 20 steps at lr 1e-3), but u^T W v never overestimates sigma, so the normalised
    # weight's largest singular value is never below 1.
    assert all(0.999 < s < 2.0 for s in sig), sig
    x = torch.randn(8, 2)
    with torch.no_grad():     # more power iterations on the current weights (train mode)
        for _ in range(50):
            tr.D(x)
    sig = _linear_sigmas(tr.D)
    assert all(abs(s - 1) < 0.05 for s in sig), sig
    before = [m.parametrizations.weight[0]._u.clone() for m in linears]
    tr.D.eval()
    with torch.no_grad():
        tr.D(x)
    tr.D.train()
    assert all(torch.equal(b, m.parametrizations.weight[0]._u) for b, m in zip(before, linears))
    plain = make_run("gan", **SMALL)
    plain.build()
    for _ in range(20):
        plain.trainer.step("D")
    assert not any(hasattr(m, "parametrizations") for m in plain.trainer.D.modules())
    assert any(abs(s - 1) > 0.1 for s in _linear_sigmas(plain.trainer.D))   # the check means something


# -- live parameters ----------------------------------------------------------------------------
def test_g_loss_switches_to_saturating_live(make_run):
    run = make_run("gan", **SMALL)
    run.train(5)
    tr, opt_g = run.trainer, run.trainer.opt_g
    g = run.scalars.series(["g_loss"])["g_loss"][1]
    assert (g > 0).all()                                  # softplus(-s) > 0
    assert run.set_param("g_loss", "saturating") is True
    assert run.status.needs_reset is False
    run.train(1)
    assert run.trainer is tr and tr.opt_g is opt_g and run.step == 6    # no rebuild
    assert tr.params["g_loss"] == "saturating"
    g = run.scalars.series(["g_loss"])["g_loss"][1]
    assert g[-1] < 0                                      # -softplus(s) < 0
    out = tr.step("G")
    assert out["g_loss"] < 0
    assert run.set_param("lr_g", 0.01) is True
    run.train(1)
    assert tr.opt_g.param_groups[0]["lr"] == 0.01
    assert run.set_param("hidden", 32) is False and run.status.needs_reset


# -- mode coverage on mixtures ----------------------------------------------------------------------
def test_mode_coverage_every_250_steps_on_ring8(make_run):
    """Measured by the runtime (not the GAN trainer), as for every family."""
    run = make_run("gan", **SMALL)
    run.train(COVERAGE_EVERY - 1)
    assert "modes_covered" not in run.scalars.names
    run.train(1)
    s = run.scalars.series(["modes_covered", "high_quality"])
    assert list(s["modes_covered"][0]) == [250] and list(s["high_quality"][0]) == [250]
    mc, hq = s["modes_covered"][1][0], s["high_quality"][1][0]
    assert mc == int(mc) and 0 <= mc <= 8 and 0 <= hq <= 1
    run.train(COVERAGE_EVERY)
    assert list(run.scalars.series(["modes_covered"])["modes_covered"][0]) == [250, 500]


def test_no_coverage_on_images_or_non_mixtures(make_run):
    run = make_run("gan", "moons", **SMALL)
    run.train(COVERAGE_EVERY)
    assert "modes_covered" not in run.scalars.names
    assert run.dataset.mixture is None


def test_cgan_on_ring8_puts_class_c_on_mode_c(make_run):
    run = make_run("cgan", "ring8", seed=0, **SMALL)
    run.train(1500)                  # ~2 s on one core (measured 3 s with the other core busy)
    assert run.trainer.n_classes == 8
    centers = run.dataset.mixture.centers
    torch.manual_seed(0)
    fractions = []
    for c in range(8):
        s = run.trainer.sample(200, labels=torch.full((200,), c))
        nearest = np.linalg.norm(s[:, None] - centers[None], axis=2).argmin(1)
        fractions.append((nearest == c).mean())
    assert min(fractions) > 0.6, fractions
    assert np.mean(fractions) > 0.9, fractions


def test_conditional_needs_labels(make_run):
    run = make_run("cgan", "swissroll")
    with pytest.raises(ParamError, match="labelled"):
        run.build()


# -- bad combinations fail clearly ----------------------------------------------------------------
@pytest.mark.parametrize("model", [m for m in MODELS if m != "dcgan"])
def test_conv_on_points_raises_param_error(make_run, model):
    run = make_run(model, "ring8", arch="conv")
    with pytest.raises(ParamError, match="arch=conv"):
        run.build()


def test_conv_on_points_fails_the_run_in_the_worker(make_run):
    run = make_run("gan", "ring8", arch="conv")
    run.start()
    wait_for(lambda: run.state == RunState.FAILED, what="the run to fail")
    assert "arch=conv" in run.status.error and "\n" not in run.status.error
    assert run.status.message.startswith("failed:")


def test_dcgan_refuses_points(gan_registry):
    with pytest.raises(VisgenError, match="does not train on points"):
        Run(gan_registry, "dcgan", "ring8")


# -- WGAN-GP as published, working on digits -----------------------------------------------------
def test_wgan_gp_defaults_are_the_published_ones():
    spec = registry_with("gan").model("wgan-gp")
    params = {p.name: p for p in spec.params}
    assert params["gp_weight"].default == 10.0                       # lambda = 10 (Gulrajani et al. 2017)
    assert params["gp_weight"].default_for("images") == 10.0
    assert params["gp_weight"].default_for("points") == 0.1          # the authors' toy-data value
    assert params["d_steps"].default == 5
    assert (params["beta1"].default_for("images"), params["beta2"].default_for("images")) == (0.0, 0.9)
    assert params["arch"].default_for("images") == "conv" and params["latent_dim"].default_for("images") >= 32


def test_wgan_gp_on_digits_keeps_the_critics_gradient_norm_near_1(make_run):
    run = make_run("wgan-gp", "digits")                               # the defaults a learner gets
    run.train(100)
    tr = run.trainer
    assert isinstance(tr.opt_d, torch.optim.Adam) and tr.opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    assert any(isinstance(m, nn.Conv2d) for m in tr.D.modules())
    # The penalty is per sample: a critic with batch norm would mix the samples of a batch.
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in tr.D.modules())
    gn = run.scalars.series(["grad_norm"])["grad_norm"][1]
    # Measured: 1.02 after 100 steps (with the old lambda = 0.1 and an MLP: 9-12).
    assert abs(gn[-50:].mean() - 1.0) < 0.1, gn[-50:].mean()


@pytest.mark.slow
def test_wgan_gp_on_digits_draws_digits_a_classifier_recognises(make_run):
    """800 steps (~25 s): a logistic regression trained on the real digits is as sure of the
    samples as measured 0.77 (real digits 0.93, uniform noise 0.60, the old MLP with 2-D noise
    and lambda = 0.1: 0.70), and the samples cover every class."""
    from sklearn.linear_model import LogisticRegression
    run = make_run("wgan-gp", "digits")
    run.build()
    x = run.dataset.x.reshape(len(run.dataset), -1)
    clf = LogisticRegression(max_iter=2000).fit(x, run.dataset.labels)
    run.train(800)
    p = clf.predict_proba(run.trainer.sample(500).reshape(500, -1))
    assert p.max(1).mean() > 0.74, p.max(1).mean()
    assert np.bincount(p.argmax(1), minlength=10).min() >= 15


@pytest.mark.parametrize("model", MODELS)
def test_image_defaults_give_every_gan_rich_noise(gan_registry, model):
    """On images z has 32 dimensions (2-D noise is for the 2D toys' warped-grid view)."""
    if "images" not in gan_registry.model(model).data_kinds:
        pytest.skip("no image data")
    run = Run(gan_registry, model, "digits", device="cpu")
    assert run.params.values["latent_dim"] >= 32
