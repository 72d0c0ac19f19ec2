"""The ``shapes`` dataset: dSprites-like images whose generative factors are known."""
import numpy as np
import pytest

from visgen import DataError
from visgen.data import load_dataset
from visgen.data.shapes import SCALES, SHAPES, X_RANGE, Y_RANGE, factors, load_shapes, render


def test_shapes_are_16x16_images_labelled_by_shape():
    d = load_shapes(n=600)
    assert d.kind == "images" and d.x.shape == (600, 1, 16, 16) and d.x.dtype == np.float32
    assert 0 <= d.x.min() and d.x.max() <= 1 and d.x.max() == 1
    assert list(d.class_names) == list(SHAPES) and set(d.labels.tolist()) == {0, 1, 2}
    assert np.array_equal(load_shapes(n=50, seed=3).x, load_shapes(n=50, seed=3).x)
    assert not np.array_equal(load_shapes(n=50, seed=3).x, load_shapes(n=50, seed=4).x)
    assert load_dataset("shapes", n=10).x.shape == (10, 1, 16, 16)   # through the registry's loader


def test_factors_measure_position_and_size_back():
    xs, ys = np.array([5.0, 8.3, 11.0]), np.array([6.0, 8.0, 10.5])
    for scale in SCALES:
        img = render(np.zeros(3, int), xs, ys, np.full(3, scale))      # squares: centroid = centre
        f = factors(img)
        assert np.allclose(f[:, 0], xs, atol=0.15) and np.allclose(f[:, 1], ys, atol=0.15)  # to a sub-pixel
        assert np.allclose(f[:, 2], (2 * scale) ** 2, rtol=0.15)      # area of a square of side 2r (to a sub-pixel)
    big, small = factors(render(np.array([1, 1]), np.array([8.0, 8.0]), np.array([8.0, 8.0]),
                                np.array([SCALES[-1], SCALES[0]])))[:, 2]
    assert big > 2 * small


def test_factors_are_spread_over_their_ranges_and_independent():
    d = load_shapes(n=3000)
    f = factors(d.x)
    assert X_RANGE[0] - 1 < f[:, 0].min() and f[:, 0].max() < X_RANGE[1] + 1
    assert f[:, 0].std() > f[:, 1].std() > 1.0                          # x spans more than y
    assert abs(np.corrcoef(f[:, 0], f[:, 1])[0, 1]) < 0.1
    assert abs(np.corrcoef(f[:, 0], f[:, 2])[0, 1]) < 0.1


@pytest.mark.parametrize("opts", [{"n": 0}, {"n": 2.5}, {"n": True}, {"seed": -1}, {"n": 10 ** 9}])
def test_bad_options_are_one_line_errors(opts):
    with pytest.raises(DataError, match="shapes") as ei:
        load_shapes(**opts)
    assert "\n" not in str(ei.value)
