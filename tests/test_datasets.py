"""Built-in datasets: toy 2D sets, digits, IDX (Fashion-)MNIST, CSV points, image folders."""
import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from visgen.core.errors import DataError, UnknownNameError
from visgen.core.spec import DatasetSpec, resolve
from visgen.data import Dataset, dataset_names, load_dataset
from visgen.data import builtin_datasets, idx, toy2d
from visgen.data.csv_points import load_csv_points
from visgen.data.digits import load_digits
from visgen.data.image_folder import load_image_folder

TOYS = ["ring8", "grid25", "moons", "swissroll", "checkerboard", "spiral", "circles"]
LABELLED = {"ring8": 8, "grid25": 25, "moons": 2, "spiral": 2, "circles": 2}


# -- helpers -------------------------------------------------------------------
def write_idx(path: Path, arr: np.ndarray, magic=None) -> Path:
    """Write a uint8 array as an IDX file (gzipped if the name ends in .gz)."""
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x00000800 | arr.ndim
    data = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
    return path


def make_idx_folder(folder: Path, n_train=12, n_test=5, gz=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    rng = np.random.default_rng(1)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{sfx}", np.arange(n) % 10)
    return folder


def write_png(path: Path, size=(8, 6), color=(128, 128, 128), mode="RGB"):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


# -- registration ----------------------------------------------------------------
def test_specs_cover_every_dataset():
    specs = builtin_datasets.visgen_register_datasets()
    names = [s.name for s in specs]
    assert names == dataset_names()
    assert set(names) == set(TOYS) | {"digits", "shapes", "fashion-mnist", "mnist", "csv", "image-folder"}
    for s in specs:
        assert isinstance(s, DatasetSpec) and s.title and s.summary
        assert callable(resolve(s.loader))
    by_name = {s.name: s for s in specs}
    assert by_name["csv"].available() == (False, "needs a path")
    assert by_name["image-folder"].available() == (False, "needs a path")
    assert by_name["csv"].takes_path and by_name["image-folder"].takes_path


def test_import_is_cheap():
    code = ("import sys, visgen.data, visgen.data.builtin_datasets as b; b.visgen_register_datasets(); "
            "print(sorted(m for m in ('torch', 'sklearn', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "[]"


def test_idx_available_reasons(tmp_path, monkeypatch):
    spec = {s.name: s for s in builtin_datasets.builtin_dataset_specs()}
    ok, why = spec["mnist"].available(str(tmp_path / "nope"))
    assert not ok and "nope" in why
    ok, why = spec["fashion-mnist"].available(str(tmp_path))
    assert not ok and "no IDX files" in why and str(tmp_path) in why
    assert spec["mnist"].available(str(make_idx_folder(tmp_path / "m"))) == (True, "")
    monkeypatch.setenv("VISGEN_MNIST_DIR", str(tmp_path / "empty"))
    ok, why = spec["mnist"].available()
    assert not ok and "VISGEN_MNIST_DIR" in why


def test_load_dataset_rejects_unknown():
    with pytest.raises(UnknownNameError):
        load_dataset("no-such-set")
    with pytest.raises(DataError, match="unknown option 'bogus'"):
        load_dataset("ring8", bogus=1)


# -- toy 2D ----------------------------------------------------------------------
@pytest.mark.parametrize("name", TOYS)
def test_toy_shapes_and_determinism(name):
    d = load_dataset(name, n=500, seed=3)
    assert isinstance(d, Dataset) and d.kind == "points" and d.name == name
    assert d.x.shape == (500, 2) and d.x.dtype == np.float32
    assert np.isfinite(d.x).all() and np.abs(d.x).max() < 5
    np.testing.assert_array_equal(d.x, load_dataset(name, n=500, seed=3).x)
    assert not np.array_equal(d.x, load_dataset(name, n=500, seed=4).x)
    if name in LABELLED:
        assert d.num_classes == LABELLED[name] == len(d.class_names)
        assert d.labels.min() >= 0 and d.labels.max() < d.num_classes
    else:
        assert d.labels is None
    assert len(toy2d.TOY_DATASETS[name]()) == 20000  # default n


@pytest.mark.parametrize("name,k,std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixture_centers(name, k, std):
    d = load_dataset(name, n=4000)
    assert d.mixture.centers.shape == (k, 2) and d.mixture.std == std
    assert d.class_names[0] == "mode 0" and len(d.class_names) == k
    # Each point lies near the center of its own component.
    dist = np.linalg.norm(d.x - d.mixture.centers[d.labels], axis=1)
    assert dist.max() < 6 * std
    assert len(np.unique(d.labels)) == k


def test_mixture_center_positions():
    c = toy2d.ring8_centers()
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0)
    g = toy2d.grid25_centers()
    assert sorted(set(g[:, 0])) == [-4, -2, 0, 2, 4] and len({tuple(p) for p in g}) == 25


def test_toy_bad_options():
    with pytest.raises(DataError, match="n must be"):
        toy2d.ring8(n=0)
    with pytest.raises(DataError, match="seed must be"):
        toy2d.moons(seed="a")
    with pytest.raises(DataError, match="std must be"):
        toy2d.grid25(std=-1.0)


# -- digits ----------------------------------------------------------------------
def test_digits():
    d = load_digits()
    assert d.x.shape == (1797, 1, 8, 8) and d.kind == "images"
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    assert d.class_names == [str(i) for i in range(10)] and set(d.labels) == set(range(10))
    assert load_digits(limit=10).x.shape == (10, 1, 8, 8)


# -- IDX ------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    arr = np.random.default_rng(0).integers(0, 256, (7, 5, 4)).astype(np.uint8)
    p = write_idx(tmp_path / ("x-idx3-ubyte" + (".gz" if gz else "")), arr)
    np.testing.assert_array_equal(idx.read_idx_images(p), arr)
    lab = write_idx(tmp_path / ("y-idx1-ubyte" + (".gz" if gz else "")), np.arange(7))
    np.testing.assert_array_equal(idx.read_idx_labels(lab), np.arange(7))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    folder = make_idx_folder(tmp_path / "mnist", gz=gz)
    d = idx.load_mnist(str(folder))
    assert d.x.shape == (12, 1, 28, 28) and d.x.dtype == np.float32 and d.x.max() <= 1.0
    assert d.class_names == [str(i) for i in range(10)]
    assert idx.load_mnist(str(folder), split="test").x.shape == (5, 1, 28, 28)
    assert idx.load_mnist(str(folder), limit=3).labels.tolist() == [0, 1, 2]
    f = idx.load_fashion_mnist(str(folder))
    assert f.class_names[0] == "T-shirt/top" and f.class_names[9] == "Ankle boot"


def test_mnist_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("VISGEN_MNIST_DIR", str(make_idx_folder(tmp_path / "m")))
    assert load_dataset("mnist", split="test").x.shape == (5, 1, 28, 28)


def test_idx_wrong_magic(tmp_path):
    p = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((2, 3, 3)), magic=0x00000801)
    with pytest.raises(DataError, match="magic") as e:
        idx.read_idx_images(p)
    assert str(p) in str(e.value)
    p = write_idx(tmp_path / "y-idx3-ubyte", np.zeros((2, 3, 3)), magic=0x00000D03)
    with pytest.raises(DataError, match="element type"):
        idx.read_idx_images(p)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path, gz):
    p = tmp_path / ("x-idx3-ubyte" + (".gz" if gz else ""))
    write_idx(p, np.ones((4, 5, 5)))
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    with pytest.raises(DataError) as e:
        idx.read_idx_images(p)
    assert str(p) in str(e.value) and "truncated" in str(e.value)


def test_idx_not_gzip(tmp_path):
    p = tmp_path / "x-idx3-ubyte.gz"
    p.write_bytes(b"definitely not gzip")
    with pytest.raises(DataError, match=str(p)):
        idx.read_idx_images(p)


def test_idx_count_mismatch(tmp_path):
    folder = make_idx_folder(tmp_path / "m")
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(11) % 10)
    with pytest.raises(DataError, match="11 labels for 12 images") as e:
        idx.load_mnist(str(folder))
    assert "train-labels-idx1-ubyte" in str(e.value)


def test_idx_missing(tmp_path):
    with pytest.raises(DataError, match="not found") as e:
        idx.load_mnist(str(tmp_path / "absent"))
    assert "absent" in str(e.value)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        idx.load_fashion_mnist(str(tmp_path))
    with pytest.raises(DataError, match="split"):
        idx.load_mnist(str(make_idx_folder(tmp_path / "m")), split="valid")


def test_real_fashion_mnist():
    ok, why = idx.idx_folder_status(idx.FASHION_MNIST_DIR)
    if not ok:
        pytest.skip(f"Fashion-MNIST not installed: {why}")
    d = load_dataset("fashion-mnist", limit=1000)
    assert d.x.shape == (1000, 1, 28, 28) and 0 <= d.x.min() and d.x.max() <= 1
    assert d.num_classes == 10 and len(np.unique(d.labels)) == 10


# -- CSV -------------------------------------------------------------------------
def write_text(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_csv_plain_and_header(tmp_path):
    d = load_csv_points(write_text(tmp_path / "a.csv", "0,1\n2.5,-3\n\n1e-1, 4\n"))
    np.testing.assert_allclose(d.x, [[0, 1], [2.5, -3], [0.1, 4]])
    assert d.labels is None and d.kind == "points"
    d = load_csv_points(write_text(tmp_path / "b.csv", "x,y\n1,2\n3,4\n"))
    assert d.x.shape == (2, 2)


def test_csv_labels(tmp_path):
    d = load_csv_points(write_text(tmp_path / "a.csv", "x,y,label\n0,0,cat\n1,1,dog\n2,2,cat\n"))
    assert d.class_names == ["cat", "dog"] and d.labels.tolist() == [0, 1, 0]
    d = load_csv_points(write_text(tmp_path / "b.csv", "0,0,5\n1,1,2\n2,2,5\n"))
    assert d.class_names == ["2", "5"] and d.labels.tolist() == [1, 0, 1]


def test_csv_text_in_row(tmp_path):
    p = write_text(tmp_path / "points.csv", "x,y\n1,2\n3,4\n5,6\n7,8\n9,10\nabc,1\n")
    with pytest.raises(DataError) as e:
        load_csv_points(p)
    assert str(e.value) == f"{p} line 7: 'abc' is not a number"


def test_csv_wrong_columns(tmp_path):
    with pytest.raises(DataError, match=r"a\.csv line 2: expected 2 columns, got 3"):
        load_csv_points(write_text(tmp_path / "a.csv", "1,2\n3,4,5\n"))
    with pytest.raises(DataError, match=r"b\.csv line 1: expected 2 columns"):
        load_csv_points(write_text(tmp_path / "b.csv", "1,2,3,4\n"))


def test_csv_empty_and_missing(tmp_path):
    with pytest.raises(DataError, match=r"e\.csv: empty"):
        load_csv_points(write_text(tmp_path / "e.csv", ""))
    with pytest.raises(DataError, match=r"h\.csv: only a header"):
        load_csv_points(write_text(tmp_path / "h.csv", "x,y\n"))
    with pytest.raises(DataError, match="not found"):
        load_csv_points(str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("csv")


# -- image folder ----------------------------------------------------------------
def test_image_folder_flat_grey(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png", color=i * 100, mode="L")
    (tmp_path / "notes.txt").write_text("ignored")
    d = load_image_folder(str(tmp_path))
    assert d.x.shape == (3, 1, 6, 8) and d.labels is None
    np.testing.assert_allclose(d.x[:, 0, 0, 0], [0, 100 / 255, 200 / 255], rtol=1e-6)


def test_image_folder_classes_rgb(tmp_path):
    write_png(tmp_path / "b" / "x.png", color=(255, 0, 0))
    write_png(tmp_path / "a" / "x.png")
    write_png(tmp_path / "a" / "y.jpg")
    d = load_image_folder(str(tmp_path))
    assert d.x.shape == (3, 3, 6, 8) and d.class_names == ["a", "b"]
    assert d.labels.tolist() == [0, 0, 1] and 0 <= d.x.min() and d.x.max() <= 1
    np.testing.assert_allclose(d.x[2, :, 0, 0], [1, 0, 0])


def test_image_folder_mixed_sizes(tmp_path):
    write_png(tmp_path / "a.png", size=(8, 6))
    write_png(tmp_path / "b.png", size=(5, 5))
    with pytest.raises(DataError) as e:
        load_image_folder(str(tmp_path))
    msg = str(e.value)
    assert "b.png" in msg and "5x5" in msg and "8x6" in msg


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_image_folder(str(tmp_path / "absent"))
    with pytest.raises(DataError, match="no images"):
        load_image_folder(str(tmp_path))
    write_png(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError, match=r"b\.png"):
        load_image_folder(str(tmp_path))
