"""The RealNVP plugin: exact inverses and log-determinants, a density that integrates to one,
a held-out likelihood above a Gaussian's, views of the right types, a click path, and
log p(x) checked by hand on a one-layer flow."""

import math

import numpy as np
import pytest
import torch
from conftest import registry_with

from visgen import Field2D, FrameSequence, ImageGrid, Scatter
from visgen.core.likelihood import heldout_nll
from visgen.core.run import Run, RunState

from visgen_flow.model import ActNorm, AffineCoupling, FactorOut, InvConv1x1, Squeeze, image_flow, points_flow

TRAIN_STEPS = 1500   # ~8 s on one core: held-out log p about -1.8 nats against the Gaussian's -3.3


@pytest.fixture(scope="module")
def flow_registry():
    return registry_with("flow")


def _make_run(registry, dataset="moons", **params):
    opts = {"n": 4000} if dataset != "digits" else {}
    return Run(registry, "realnvp", dataset, params=params, seed=0, device="cpu", threads=1,
               dataset_options=opts)


@pytest.fixture(scope="module")
def trained(flow_registry):
    """A run trained as `visgen train` would, on a small moons set (shared: training is the cost)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    run = _make_run(flow_registry)
    try:
        run.train(TRAIN_STEPS)
        yield run
    finally:
        run.stop().result(timeout=10)
        torch.set_num_threads(n)


def _randomised(flow, x, scale=0.4, seed=0):
    """Random weights everywhere (the zero-initialised output layers make a new flow the identity,
    which would pass any test), actnorm initialised from ``x`` first."""
    flow.train()
    flow(x)  # data-dependent actnorm init
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return flow.eval()


def _flows():
    gen = torch.Generator().manual_seed(1)
    x2 = torch.randn(64, 2, dtype=torch.float64, generator=gen) * 1.5
    ximg = torch.randn(8, 1, 4, 4, dtype=torch.float64, generator=gen)
    yield "points", _randomised(points_flow(6, 16, actnorm=True).double(), x2), x2
    yield "images", _randomised(image_flow((1, 4, 4), 4, 8, actnorm=True).double(), ximg, 0.2), ximg
    x8 = torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=gen)
    yield "images multi-scale", _randomised(image_flow((1, 8, 8), 2, 8, actnorm=True, conv1x1=True).double(), x8, 0.2), x8


def _walk(flow, x, path=""):
    """(name, layer, its input) for every layer, the factored-out scales' inner layers too."""
    h = x.detach()
    for i, layer in enumerate(flow.layers):
        if isinstance(layer, FactorOut):
            yield from _walk(layer.flow, h[:, :layer.keep], f"{path}{i}.")
        yield f"{path}{i} {type(layer).__name__}", layer, h
        h = layer(h)[0].detach()


def test_the_image_flow_is_multi_scale_with_glow_pieces():
    _, flow, x = list(_flows())[-1]
    kinds = {type(layer) for _, layer, _ in _walk(flow, x)}
    assert {Squeeze, InvConv1x1, FactorOut, ActNorm, AffineCoupling} <= kinds
    scales = [layer for _, layer, _ in _walk(flow, x) if isinstance(layer, FactorOut)]
    assert sorted(f.keep for f in scales) == [2, 4]  # 8x8x1 -> 4x4x4 keeps 2 channels, -> 2x2x8 keeps 4
    assert flow(x)[0].shape == x.shape               # the latent has the image's shape


def test_every_layer_and_the_flow_invert_exactly():
    for kind, flow, x in _flows():
        assert any(isinstance(l, ActNorm) for l in flow.layers) and any(isinstance(l, AffineCoupling) for l in flow.layers)
        with torch.no_grad():
            for name, layer, h in _walk(flow, x):
                y, _ = layer(h)
                if y.shape == h.shape:
                    assert (y - h).abs().max() > 1e-3, f"{kind} {name} is the identity: the test would prove nothing"
                assert torch.allclose(layer.inverse(y), h, atol=1e-5), f"{kind} {name}"
            z, _ = flow(x)
            assert torch.allclose(flow.inverse(z), x, atol=1e-5), kind
            assert torch.allclose(flow(flow.inverse(x))[0], x, atol=1e-5), kind


def _brute_logdet(fn, x):
    """log|det J| of ``fn`` at each example of ``x``, from the full Jacobian by autograd."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: fn(v[None].view(1, *x.shape[1:]))[0].flatten(), xi.flatten())
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


def test_log_determinants_match_the_brute_force_jacobian():
    for kind, flow, x in _flows():
        x = x[:6] if kind == "points" else x[:2]
        for name, layer, h in _walk(flow, x):
            _, ld = layer(h)
            brute = _brute_logdet(layer, h)
            if not isinstance(layer, Squeeze):  # a squeeze is a permutation: log det 0 is right
                assert ld.abs().max() > 1e-3, f"{kind} {name}: log det 0 would pass trivially"
            assert torch.allclose(ld, brute, atol=1e-6), (kind, name, ld, brute)
        _, total = flow(x)
        assert torch.allclose(total, _brute_logdet(flow, x), atol=1e-6), kind


def test_log_likelihood_by_hand_on_one_coupling_layer(flow_registry):
    """One coupling layer (x1 kept, x2 scaled and shifted), its network's weights random; log p
    written out in numpy: N(x1) N(x2 e^s + t) e^s, with s, t from the MLP computed by hand."""
    run = _make_run(flow_registry, layers=1, hidden=5)
    run.build()
    tr = run.trainer
    run.stop().result(timeout=10)
    layer = tr.flow.layers[0]
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    lin = [m for m in layer.net if isinstance(m, torch.nn.Linear)]
    W = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in lin]
    x = np.array([[0.3, -1.2], [-2.0, 0.7], [1.1, 0.0]])

    silu = lambda a: a / (1 + np.exp(-a))
    h = x * np.array([1.0, 0.0])                       # x_a = x1 (x2 masked out)
    for w, b in W[:-1]:
        h = silu(h @ w.T + b)
    out = h @ W[-1][0].T + W[-1][1]
    raw_s, t = out[:, 1], out[:, 3]                    # (raw s, t) for the transformed x2
    s = 3.0 * np.tanh(raw_s / 3.0)
    z1, z2 = x[:, 0], x[:, 1] * np.exp(s) + t
    log_n = lambda v: -0.5 * (v * v + math.log(2 * math.pi))
    expected = log_n(z1) + log_n(z2) + s

    with tr.evaluation():
        got = tr.log_likelihood(torch.tensor(x, dtype=torch.float32)).double().numpy()
    assert np.abs(s).min() > 0.05                       # the layer really scales
    assert np.allclose(got, expected, atol=1e-4), (got, expected)
    assert tr.likelihood == "exact"


def test_density_integrates_to_one(trained):
    tr = trained.trainer
    lim, n = 7.0, 351
    g = torch.linspace(-lim, lim, n)
    gx, gy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1)
    with tr.evaluation():
        p = torch.cat([tr.log_likelihood(c).exp() for c in pts.split(40000)])
    mass = float(p.double().sum()) * float(g[1] - g[0]) ** 2
    assert abs(mass - 1.0) < 0.05, mass
    # the density has learnt the moons: its peak (measured 0.37) is far above the fitted
    # Gaussian's 1 / (2 pi sqrt(det C)) ~ 0.10
    assert float(p.max()) > 0.25


def test_heldout_likelihood_beats_a_fitted_gaussian(trained):
    assert trained.state == RunState.PAUSED and trained.step == TRAIN_STEPS
    _, nll = trained.scalars.series(["nll"])["nll"]
    assert np.isfinite(nll).all() and nll[-100:].mean() < nll[:10].mean() - 1.0
    train, heldout = trained.dataset, trained.heldout
    res = heldout_nll(trained.trainer, heldout)
    assert res["likelihood"] == "exact" and res["heldout_examples"] == len(heldout)
    flow_ll = -res["nll_nats"]
    x = train.x.astype(np.float64)
    mu, cov = x.mean(0), np.cov(x.T)
    d = heldout.x.astype(np.float64) - mu
    gauss = (-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
             - 0.5 * np.log(np.linalg.det(cov)) - math.log(2 * math.pi))
    # measured: flow about -1.8 nats, Gaussian -3.3
    assert flow_ll > gauss.mean() + 0.8, (flow_ll, gauss.mean())


def test_views_draw_and_a_click_follows_its_point(trained, flow_registry):
    run, tr = trained, trained.trainer
    seen = {}
    for decl in run.views:
        snap = tr.snapshot(decl.id)
        if decl.kind == "lines" and decl.scalars:
            assert snap is None, decl.id
            if decl in run.spec.views:  # the runtime's coverage streams only on mixtures (not moons)
                assert not set(decl.scalars) - set(run.scalars.names), decl.id
            continue
        types = tuple(flow_registry.view_kinds[decl.kind].snapshot_types)
        assert isinstance(snap, types), f"{decl.id}: {type(snap).__name__} is not one of {types}"
        seen[decl.id] = snap
    assert set(seen) == {"density", "grid", "path", "samples2d", "logdet"}
    check = run.check_views(budget=30).result(timeout=60)
    assert not check["problems"], check["problems"]

    grid = seen["grid"]
    k = len(tr.flow.layers)
    assert isinstance(grid, FrameSequence) and grid.points.shape[0] == k + 1 == len(grid.labels)
    z = grid.points[0]                                  # frame 0: the regular z grid in [-3, 3]^2
    assert np.isclose(z.min(), -3) and np.isclose(z.max(), 3)
    with tr.evaluation():                               # the last frame is x = f^-1(z): f maps it back
        back, _ = tr.flow(torch.as_tensor(grid.points[-1]))
    assert np.allclose(back.numpy(), z, atol=1e-3)
    dens = seen["density"]
    assert isinstance(dens, Field2D) and np.isfinite(dens.values).all()
    assert isinstance(seen["samples2d"], Scatter) and seen["samples2d"].series[0].xy.shape == (1000, 2)

    run.click("path", 1.0, 0.5).result(timeout=10)
    dens, path = run.take("density"), run.take("path")
    assert isinstance(dens, Field2D) and isinstance(path, Scatter)
    line = next(p for p in path.series if p.polyline)
    assert line.xy.shape == (k + 1, 2) and line.polyline == k + 1
    assert np.allclose(line.xy[0], [1.0, 0.5], atol=1e-6)          # starts at the clicked point
    with tr.evaluation():
        z_click, _ = tr.flow(torch.tensor([[1.0, 0.5]]))
    assert np.allclose(line.xy[-1], z_click.numpy()[0], atol=1e-5)  # ends at its z
    back = next(p for p in path.series if p.name.startswith("f⁻¹(z), back"))
    assert np.allclose(back.xy, [[1.0, 0.5]], atol=1e-5)           # and the inverse lands on x again
    assert np.allclose(next(p for p in dens.points if p.polyline).xy, line.xy)


def test_images_train_and_draw(flow_registry):
    """Digits 8x8: dequantised, logit space, checkerboard couplings; the NLL falls and views draw."""
    run = _make_run(flow_registry, "digits", layers=4, hidden=16, batch_size=32)
    try:
        run.train(30)
        _, nll = run.scalars.series(["nll"])["nll"]
        assert np.isfinite(nll).all() and nll[-5:].mean() < nll[:3].mean()
        tr = run.trainer
        for view in ("samples", "latents", "temperatures"):
            assert isinstance(tr.snapshot(view), ImageGrid), view
        latents = tr.snapshot("latents")
        assert latents.images.shape[0] == 72                       # 24 images, each x, z and back
        err = float(latents.title.split("error ")[1].rstrip(")"))
        assert err < 1e-4, latents.title                            # the round trip x -> z -> x is exact
        temps = tr.snapshot("temperatures").images.reshape(4, 8, -1)
        assert temps[0].std(0).mean() < temps[-1].std(0).mean()    # T = 0.5 varies less than T = 1
        s = tr.sample(4)
        assert s.shape == (4, 1, 8, 8) and 0 <= s.min() and s.max() <= 1
        res = heldout_nll(tr, run.heldout)
        assert np.isfinite(res["nll_nats"]) and np.isfinite(res["bits_per_dim"])
    finally:
        run.stop().result(timeout=10)
