"""The cures for mode collapse: unrolled GAN, PacGAN packing, minibatch standard deviation."""
import pytest
import torch

from conftest import registry_with
from visgen import ParamError
from visgen.core.run import Run
from visgen_gan import nets
from visgen_gan.collapse import MinibatchStd, Packed


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def built(model, dataset="ring8", seed=0, **params):
    run = Run(registry_with("gan"), model, dataset, params={"hidden": 32, "batch_size": 64, **params},
              seed=seed, device="cpu", threads=1, dataset_options={"n": 2000})
    run.build()
    return run


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def optimizer_state(opt):
    return [{k: v.clone() for k, v in s.items()} for s in opt.state.values()]


def test_unrolled_update_puts_d_back_after_g_learnt_from_its_future():
    run = built("unrolled-gan", unrolled_steps=5)
    t = run.trainer
    run.train(3)  # Adam has state to restore
    d_before, opt_before, g_before = state(t.D), optimizer_state(t.opt_d), state(t.G)
    torch.manual_seed(1)
    t._g_step()
    assert all(torch.equal(d_before[k], v) for k, v in state(t.D).items())  # D exactly as it was...
    assert all(all(torch.equal(a[k], b[k]) for k in a) for a, b in zip(opt_before, optimizer_state(t.opt_d)))
    moved_unrolled = {k: v - g_before[k] for k, v in state(t.G).items()}
    assert any(v.abs().max() > 0 for v in moved_unrolled.values())      # ...while G moved
    # the same G step without the look-ahead moves G differently: the unrolled D mattered
    t.G.load_state_dict(g_before)
    t.params["unrolled_steps"] = 0
    opt_g = optimizer_state(t.opt_g)
    torch.manual_seed(1)
    t._g_step()
    moved_plain = {k: v - g_before[k] for k, v in state(t.G).items()}
    assert opt_g  # (Adam's state existed for both)
    assert any(not torch.allclose(moved_plain[k], moved_unrolled[k]) for k in moved_plain)


def test_unrolled_steps_are_live():
    run = built("gan")
    assert run.set_param("unrolled_steps", 3) is True
    run.train(2)
    assert run.trainer.params["unrolled_steps"] == 3


def test_pacgan_packs_m_points_into_one_judgement():
    G, D = nets.build("mlp", (2,), 2, 16, 0, False, pack=3)
    assert isinstance(D, Packed) and D.inner.net[0].in_features == 6   # three points side by side
    x = torch.randn(7, 2)
    assert D(x).shape == (2,)            # 7 samples: two packs of 3, the last sample left out
    packs = []
    D.inner.register_forward_hook(lambda m, args, out: packs.append(args[0]))
    D(x)
    assert torch.equal(packs[-1], torch.cat([x[0:3].flatten(), x[3:6].flatten()]).view(2, 6))
    assert D.each(x).shape == (7,)       # the heatmap: one score per point, on 3 copies of it
    assert torch.equal(packs[-1][4], x[4].repeat(3))


def test_pacgan_on_images_packs_channels():
    G, D = nets.build("conv", (1, 8, 8), 8, 32, 0, True, pack=2)
    assert D.inner.net[0].in_channels == 2
    assert D(torch.rand(6, 1, 8, 8)).shape == (3,)


def test_pacgan_refuses_labels():
    with pytest.raises(ParamError, match="pack"):
        nets.build("mlp", (2,), 2, 16, 8, False, pack=2)


def test_minibatch_std_shows_d_how_spread_out_its_batch_is():
    G, D = nets.build("mlp", (2,), 2, 16, 0, False, minibatch_std=True)
    assert isinstance(D, MinibatchStd) and D.inner.net[0].in_features == 3
    seen = []
    D.inner.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    spread = torch.randn(64, 2) * torch.tensor([1.0, 3.0])
    D(spread)
    assert torch.allclose(seen[-1][:, 2], spread.std(0).mean().expand(64))
    collapsed = torch.zeros(64, 2) + torch.tensor([1.0, -1.0])
    D(collapsed)
    assert torch.equal(seen[-1][:, 2], torch.zeros(64))  # a collapsed batch has no spread to show
    D.each(torch.randn(5, 2))                            # one point at a time: the last batch's spread
    assert torch.equal(seen[-1][:, 2], torch.zeros(5))


@pytest.mark.parametrize("params", [{"pack": 2}, {"minibatch_std": True}, {"pack": 2, "minibatch_std": True}])
def test_cures_train_and_draw_the_decision_map(params):
    run = built("gan", **params)
    run.train(20)
    field = run.trainer.snapshot("decision")
    assert field.values.shape == (80, 80) and torch.isfinite(torch.as_tensor(field.values)).all()
