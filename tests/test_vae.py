"""The VAE plugin: it learns, its views feed the right snapshot types, clicks decode."""

import numpy as np
import pytest
from conftest import wait_for
import torch

from visgen import Bars, ImageGrid, Scatter
from visgen.core.run import Run, RunState
from visgen.core.trainer import to_numpy

SMALL = {"hidden": 64, "batch_size": 64}


@pytest.fixture
def make_run(registry, stop_runs):
    def make(dataset="digits", seed=0, **params):
        opts = {"n": 4000} if dataset != "digits" else {}
        run = Run(registry, "vae", dataset, params=params, seed=seed, device="cpu", threads=1,
                  dataset_options=opts)
        stop_runs(run)
        return run
    return make




def test_negative_elbo_falls_on_digits(make_run):
    run = make_run(seed=0)  # default sizes, as a user gets them
    run.train(400)
    assert run.step == 400 and run.state == RunState.PAUSED
    steps, v = run.scalars.series(["neg_elbo"])["neg_elbo"]
    assert len(v) == 400 and np.isfinite(v).all()
    first, last = v[:10].mean(), v[-50:].mean()
    # Measured with seed 0: about 39 nats falling to about 25 (ratio 0.64).
    assert last < 0.8 * first, (first, last)
    # The best model that ignores z is the mean image: its Bernoulli NLL is the bar to beat.
    x = run.dataset.x.reshape(len(run.dataset), -1).astype(np.float64)
    p = np.clip(x.mean(0), 1e-7, 1 - 1e-7)
    mean_image_nll = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean()   # ~27.1 nats
    assert last < mean_image_nll - 1.0, (last, mean_image_nll)
    # neg_elbo = recon + kl, as streamed
    s = run.scalars.series(["recon", "kl", "neg_elbo"])
    assert np.allclose(s["recon"][1] + s["kl"][1], s["neg_elbo"][1], rtol=1e-4)
    assert (s["kl"][1] >= 0).all()
    summary = run.trainer.summary()
    assert 0 < summary["train_neg_elbo_nats"] < first


def _check_views(run, registry, data_kind):
    decls = run.spec.views_for(data_kind)
    assert decls, data_kind
    seen = {}
    for decl in decls:
        snap = run.trainer.snapshot(decl.id)
        seen[decl.id] = snap
        if decl.kind == "lines" and decl.scalars:
            assert snap is None, decl.id          # fed from the scalar stream instead
            assert set(decl.scalars) <= set(run.scalars.names)
            continue
        if decl.id == "decoded":
            assert snap is None                   # fed by clicks only (see the click tests)
            continue
        types = tuple(registry.view_kinds[decl.kind].snapshot_types)
        assert types, decl.kind
        assert isinstance(snap, types), f"{decl.id}: {type(snap).__name__} is not a {types}"
    return seen


def test_image_views_return_their_snapshot_types(make_run, registry):
    run = make_run(**SMALL)
    run.train(5)
    ids = {v.id for v in run.spec.views_for("images")}
    assert ids == {"losses", "latent", "decoded", "recon", "samples", "traversal", "kl_dims", "collapse"}
    seen = _check_views(run, registry, "images")
    assert seen["recon"].images.shape == (64, 8, 8)           # 4 rows of 8 inputs + 8 reconstructions
    assert seen["samples"].images.shape == (64, 8, 8)
    assert seen["traversal"].images.shape == (81, 8, 8)       # 9x9 grid over z1, z2
    assert 0 <= seen["samples"].images.min() and seen["samples"].images.max() <= 1
    kl = seen["kl_dims"]
    assert isinstance(kl, Bars)
    assert list(kl.labels) == ["z1", "z2"] and (kl.values >= 0).all()
    assert run.trainer.snapshot("no-such-view") is None
    assert run.trainer.model.training                         # views put the model back in train mode


def test_point_views_return_their_snapshot_types(make_run, registry):
    run = make_run("ring8", **SMALL)
    run.train(5)
    ids = {v.id for v in run.spec.views_for("points")}
    assert ids == {"losses", "latent", "samples2d", "kl_dims", "collapse"}
    seen = _check_views(run, registry, "points")
    s2d = {p.name: p for p in seen["samples2d"].series}
    assert set(s2d) == {"data", "samples"}
    assert s2d["samples"].xy.shape == (1000, 2)
    assert s2d["data"].xy.shape == (2000, 2)
    assert run.trainer.model.likelihood == "gaussian"


@pytest.mark.parametrize("dataset,n,classes", [("ring8", 2000, 8), ("digits", None, 10)])
def test_latent_scatter_2d_has_2000_labelled_points(make_run, dataset, n, classes):
    """2,000 posterior means (all the training digits: 1,797 less the held-out tenth), by class."""
    run = make_run(dataset, **SMALL, latent_dim=2)
    run.train(3)
    n = n or len(run.dataset)
    assert dataset != "digits" or n == 1797 - 179
    snap = run.trainer.snapshot("latent")
    assert isinstance(snap, Scatter) and len(snap.series) == 1
    ps = snap.series[0]
    assert ps.xy.shape == (n, 2) and ps.labels.shape == (n,)
    assert set(ps.labels.tolist()) == set(range(classes))
    assert len(ps.class_names) == classes
    assert (snap.x_label, snap.y_label) == ("z1", "z2")
    # with 2 latent dims the plot is the posterior mean itself
    tr = run.trainer
    with torch.no_grad():
        mu, _ = tr.model.encode(tr.data.x[tr.view_idx])
    assert np.allclose(ps.xy, to_numpy(mu), atol=1e-5)
    assert np.array_equal(ps.labels, to_numpy(tr.data.labels[tr.view_idx]).astype(int))


def test_latent_scatter_uses_pca_for_8_dims(make_run):
    run = make_run("ring8", **SMALL, latent_dim=8)
    run.train(20)
    snap = run.trainer.snapshot("latent")
    ps = snap.series[0]
    assert ps.xy.shape == (2000, 2) and ps.labels.shape == (2000,)
    assert snap.x_label.startswith("PC 1") and snap.y_label.startswith("PC 2")
    tr = run.trainer
    with torch.no_grad():
        mu = to_numpy(tr.model.encode(tr.data.x[tr.view_idx])[0]).astype(np.float64)
    centred = mu - mu.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    ref = centred @ vt[:2].T
    for j in range(2):   # the same axes as a plain PCA, up to sign
        c = np.corrcoef(ps.xy[:, j], ref[:, j])[0, 1]
        assert abs(c) > 0.999, (j, c)
    assert ps.xy[:, 0].var() >= ps.xy[:, 1].var()
    assert abs(np.corrcoef(ps.xy.T)[0, 1]) < 1e-3
    assert len(tr.snapshot("kl_dims").values) == 8


def test_traversal_for_8_dims(make_run):
    run = make_run(**SMALL, latent_dim=8)
    run.train(2)
    assert run.trainer.snapshot("traversal").images.shape == (72, 8, 8)   # 8 dims x 9 steps
    assert run.trainer.snapshot("latent").series[0].xy.shape == (len(run.dataset), 2)  # every training digit


def test_click_on_latent_decodes_an_image(make_run):
    run = make_run(**SMALL)
    run.start()
    wait_for(lambda: run.step >= 3)
    run.pause()       # the worker stays up, and the model stays as it is
    assert run.call(lambda t: t.on_click("samples", 0, 0)).result(timeout=30) == {}  # not clickable
    run.click("latent", 0.5, -1.0).result(timeout=30)
    assert run.alive
    snap = run.take("decoded")
    assert isinstance(snap, ImageGrid)
    assert snap.images.shape == (1, 8, 8) and snap.step >= 3

    def decode(trainer):   # the decoder's mean at that point, computed in the worker too
        with torch.no_grad():
            return to_numpy(torch.sigmoid(trainer.model.decode(torch.tensor([[0.5, -1.0]]))))

    want = run.call(decode).result(timeout=30)
    assert np.allclose(snap.images[0], want[0, 0], atol=1e-5)


def test_click_on_latent_with_pca_needs_a_fit_first(make_run):
    run = make_run(**SMALL, latent_dim=8)
    run.train(2)
    assert run.trainer.on_click("latent", 0.0, 0.0) == {}   # no projection yet: nothing to invert
    run.trainer.snapshot("latent")
    out = run.trainer.on_click("latent", 0.0, 0.0)
    assert out["decoded"].images.shape == (1, 8, 8)


def test_click_on_points_latent_adds_decoded_series(make_run):
    run = make_run("ring8", **SMALL)
    run.train(3)
    run.click("latent", 0.2, 0.3).result(timeout=30)
    snap = run.take("samples2d")
    assert isinstance(snap, Scatter)
    series = {p.name: p for p in snap.series}
    assert set(series) == {"data", "samples", "decoded click"}
    assert series["decoded click"].xy.shape == (1, 2)
    with torch.no_grad():   # the decoder's mean at the clicked latent point
        want = to_numpy(run.trainer.model.mean(torch.tensor([[0.2, 0.3]])))
    assert np.allclose(series["decoded click"].xy, want, atol=1e-5)
    assert run.take("decoded") is None


def test_beta_is_live(make_run):
    run = make_run(**SMALL)
    run.step_once()
    wait_for(lambda: run.step == 1)
    assert run.trainer.params["beta"] == 1.0
    assert run.set_param("beta", "4") is True
    assert run.status.needs_reset is False
    run.step_once()
    wait_for(lambda: run.step == 2)
    assert run.trainer.params["beta"] == 4.0
    assert run.set_param("lr", 0.01) is True
    run.step_once()
    wait_for(lambda: run.step == 3)
    assert run.call(lambda t: t.opt.param_groups[0]["lr"]).result(timeout=30) == 0.01
    assert run.set_param("latent_dim", 3) is False and run.status.needs_reset


def test_beta_zero_lets_kl_grow(make_run):
    a = make_run(**SMALL, beta=0.0)
    b = make_run(**SMALL, beta=4.0)
    a.train(150)
    b.train(150)
    kl_a = a.scalars.series(["kl"])["kl"][1][-30:].mean()
    kl_b = b.scalars.series(["kl"])["kl"][1][-30:].mean()
    assert kl_a > 2 * kl_b, (kl_a, kl_b)


def test_conv_trains_on_digits(make_run, registry):
    run = make_run(arch="conv", hidden=32, batch_size=32)
    run.train(5)
    assert run.step == 5 and run.state == RunState.PAUSED
    assert any(isinstance(m, torch.nn.Conv2d) for m in run.trainer.model.modules())
    v = run.scalars.series(["neg_elbo"])["neg_elbo"][1]
    assert np.isfinite(v).all()
    assert run.trainer.snapshot("recon").images.shape == (64, 8, 8)
    assert run.trainer.sample(4).shape == (4, 1, 8, 8)


def test_conv_on_points_fails_clearly(make_run):
    run = make_run("ring8", arch="conv")
    run.start()
    wait_for(lambda: run.state == RunState.FAILED, what="the conv-on-points run to fail")
    assert "conv" in run.status.error and "image" in run.status.error
    assert "\n" not in run.status.error
    assert run.status.message.startswith("failed:")


def test_sample_shapes_and_range(make_run):
    img = make_run(**SMALL)
    img.train(2)
    s = img.trainer.sample(5)
    assert s.shape == (5, 1, 8, 8) and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1
    pts = make_run("ring8", **SMALL)
    pts.train(2)
    assert pts.trainer.sample(7).shape == (7, 2)


# -- beta-VAE: disentangling on shapes, posterior collapse on digits ------------------------------
def _row_factor_moves(images: np.ndarray, data_x: np.ndarray) -> np.ndarray:
    """(rows, 3): how far x, y and size move from one end of each traversal row to the
    other, as a fraction of their spread in the data."""
    from visgen.data.shapes import factors
    span = np.ptp(factors(data_x), axis=0)
    rows = images.reshape(-1, 9, *images.shape[1:])
    return np.stack([np.abs(factors(r[-1:]) - factors(r[:1]))[0] for r in rows]) / span


def test_beta_vae_on_shapes_puts_one_factor_in_each_active_dimension(make_run):
    """The beta-VAE experiment: on shapes (factors x, y, size) beta = 4 keeps about one
    latent dimension per factor, the others collapse, and each active row of the
    traversal moves one factor. Measured (seeds 0-3, 1,000 steps, ~5 s): 3 of 6 dims active,
    the dominant factor 59-95 % of each row's movement (80-99 % after 2,000 steps)."""
    run = make_run("shapes")                                             # 4,000 images
    assert (run.params.values["beta"], run.params.values["latent_dim"]) == (4.0, 6)   # shapes' defaults
    run.train(1000)
    bars = run.trainer.snapshot("kl_dims")
    active = ~bars.marked
    assert np.array_equal(bars.marked, bars.values < 0.01)
    assert 2 <= active.sum() <= 4, bars.values
    assert f"{active.sum()}/6 active" in bars.y_label
    assert run.scalars.series(["active_dims"])["active_dims"][1][-1] == active.sum()

    trav = run.trainer.snapshot("traversal")
    assert trav.images.shape == (54, 16, 16) and trav.nrow == 9
    order = np.argsort(-bars.values, kind="stable")
    heads = [c for c in trav.captions if c]
    assert heads == [f"z{j + 1} {bars.values[j]:.2f}" + ("" if bars.values[j] >= 0.01 else " off")
                     for j in order]                                     # rows by KL, largest first
    moves = _row_factor_moves(trav.images, run.dataset.x)
    n = int(active.sum())
    share = moves.max(1) / moves.sum(1)
    assert (share[:n] > 0.5).all(), moves[:n]                            # each active row: mostly one factor
    assert len(set(moves[:n].argmax(1)[:3])) == min(n, 3), moves[:n]      # ... and a different one per row
    assert moves[n:].max() < 0.1 * moves[:n].max(1).min()                # collapsed rows move nothing


def test_kl_bars_axis_never_shrinks_when_every_dimension_collapses(make_run):
    run = make_run(**SMALL, latent_dim=8, beta=1.0)
    run.train(150)
    before = run.trainer.snapshot("kl_dims")
    assert before.y_max >= max(1.0, before.values.max())                 # the floor, or the tallest bar
    assert before.threshold == 0.01
    assert run.set_param("beta", 20.0)                                   # live: squeeze KL out of every dim
    run.train(300)
    after = run.trainer.snapshot("kl_dims")
    assert after.values.max() < 0.01, after.values                       # collapsed: KL ~ 0 everywhere
    assert after.marked.all() and "0/8 active" in after.y_label
    assert after.y_max == before.y_max >= 1.0                            # ... and the axis did not follow it down
    assert run.scalars.series(["active_dims"])["active_dims"][1][-1] == 0


@pytest.mark.slow
def test_beta_1_on_shapes_uses_more_dimensions_than_beta_4(make_run):
    """The contrast a learner sees with Reset: beta = 1 wakes more dimensions (measured 4 vs 3)."""
    counts = {}
    for beta in (1.0, 4.0):
        run = make_run("shapes", beta=beta)
        run.train(1000)
        counts[beta] = int((~run.trainer.snapshot("kl_dims").marked).sum())
    assert counts[1.0] > counts[4.0], counts
