"""The conditional VAE: the label picks the class, z keeps the style."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import registry_with
from visgen import ImageGrid, ParamError
from visgen.core.run import Run
from visgen.core.snapshots import ViewProblem


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def make(dataset="digits", **params):
    return Run(registry_with("vae"), "cvae", dataset, params={"hidden": 128, **params}, seed=0, device="cpu", threads=1)


def test_samples_of_a_chosen_class_are_that_class():
    """1,500 steps (about 5 s): the digits classifier reads each row of the sample grid as the
    class it was asked for (measured: all 80 samples, seed 0)."""
    from visgen.metrics import load_digits_classifier

    run = make()
    run.build()
    run.train(1500)
    grid = run.trainer.snapshot("samples")
    assert isinstance(grid, ImageGrid) and grid.images.shape == (80, 8, 8) and grid.nrow == 8
    asked = np.repeat(np.arange(10), 8)                                   # row = class
    seen = load_digits_classifier().probabilities(grid.images[:, None]).argmax(1)
    assert (seen == asked).mean() >= 0.85, (seen.reshape(10, 8), (seen == asked).mean())


def test_a_column_is_one_z_in_every_class_and_restyle_keeps_an_images_z():
    run = make(hidden=32)
    run.build()
    run.train(20)
    t = run.trainer
    with torch.no_grad():
        t.model.eval()
        grid = t.snapshot("samples").images
        y3 = F.one_hot(torch.tensor([3]), 10).float()
        expected = t.model.mean(t.fixed_z[5:6], y3)[0, 0].numpy()
        assert np.allclose(grid[3 * 8 + 5], expected, atol=1e-6)          # row 3, column 5: z_5 as a 3
        restyle = t.snapshot("restyle")
        assert restyle.images.shape == (8 * 11, 8, 8) and restyle.nrow == 11
        x = t.data.x[t.view_idx[:1]]
        assert np.allclose(restyle.images[0], x[0, 0].numpy())              # each row starts with the image
        mu, _ = t.model.encode(x, F.one_hot(t.data.labels[t.view_idx[:1]], 10).float())
        assert np.allclose(restyle.images[1 + 7], t.model.mean(mu, F.one_hot(torch.tensor([7]), 10).float())[0, 0].numpy(),
                           atol=1e-6)                                       # ... then its z as every class


def test_a_cvae_says_why_it_has_no_likelihood_of_x():
    run = make(hidden=32, likelihood="gaussian")
    run.build()
    assert run.trainer.likelihood is None and "p(x|y)" in run.trainer.no_likelihood_why


def test_a_cvae_needs_labels():
    with pytest.raises(ParamError, match="labelled"):
        make("swissroll").build()


def test_a_cvae_trains_on_points_and_images_with_conv_too():
    for dataset, params in (("ring8", {}), ("digits", {"arch": "conv"})):
        run = make(dataset, hidden=32, **params)
        run.build()
        run.train(30)
        assert run.trainer.sample(7).shape[0] == 7
        for v in run.views:
            snap = run.trainer.snapshot(v.id)
            assert not isinstance(snap, ViewProblem), (v.id, snap)
