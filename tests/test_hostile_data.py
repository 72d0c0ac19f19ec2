"""Hostile data files: each is refused with one line naming the file, in bounded memory.

Every case writes its own small file under tmp_path; bombs are cheap to make (gzip
of zeros, a PNG header promising a huge image) and expensive only to a careless reader.
The memory cases run the loader in a fresh Python and read its peak RSS.
"""
import gzip
import os
import struct
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from visgen.cli.main import main
from visgen.core.errors import DataError
from visgen.data import csv_points, idx, image_folder
from visgen.data.csv_points import load_csv_points
from visgen.data.image_folder import load_image_folder

REPO = Path(__file__).resolve().parents[1]
BOUNDED_MB = 100  # what reading a refused file may add to a process's peak memory


# -- file generators -------------------------------------------------------------
def idx_bytes(shape, data=b"", magic=None) -> bytes:
    """An IDX header for ``shape`` (of unsigned bytes) followed by ``data``."""
    magic = 0x00000800 | len(shape) if magic is None else magic
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in shape) + data


def write_idx(path: Path, arr, magic=None) -> Path:
    arr = np.asarray(arr, dtype=np.uint8)
    path.write_bytes(idx_bytes(arr.shape, arr.tobytes(), magic))
    return path


def gzip_bomb(path: Path, head: bytes, mib: int = 1024) -> Path:
    """``head`` then ``mib`` MiB of zeros, gzipped into about 1 MB: one 16 MiB member,
    compressed once and repeated (concatenated gzip members are one valid stream)."""
    member = gzip.compress(bytes(16 << 20), compresslevel=9, mtime=0)
    path.write_bytes(gzip.compress(head, mtime=0) + member * (mib // 16))
    return path


def mnist_folder(folder: Path, images: bytes, labels: bytes) -> Path:
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(images)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    return folder


def png_bytes(w: int, h: int, pixels: bool = False) -> bytes:
    """A greyscale PNG of w x h: valid all-black pixels if ``pixels``, else only a header
    (Pillow reads the size lazily; decoding it would fail). Made without allocating it."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    if pixels:
        z = zlib.compressobj(9)
        row = bytes(w + 1)  # filter byte + one row of zeros
        data = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    else:
        data = zlib.compress(b"")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def write_png(path: Path, size=(8, 6), color=(128, 128, 128), mode="RGB") -> Path:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(load, *args) -> str:
    """The DataError message ``load(*args)`` raises."""
    with pytest.raises(DataError) as e:
        load(*args)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


PEAK = """
import resource, sys
from visgen.core.errors import DataError
from visgen.data import idx, image_folder
import PIL.PngImagePlugin
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {call}(sys.argv[1])
    print("loaded")
except DataError as exc:
    print(exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def peak_growth(call: str, path: Path) -> tuple:
    """(message, MB its peak memory grew by) for ``call(path)`` in a fresh Python."""
    out = subprocess.run([sys.executable, "-c", PEAK.format(call=call), str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    message, mb = out.stdout.strip().rsplit("\n", 1)
    return message, float(mb)


# -- IDX -------------------------------------------------------------------------
def test_idx_gzip_bomb_longer_than_its_header_is_refused_in_bounded_memory(tmp_path):
    p = gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes((1, 28, 28), bytes(784)))
    assert p.stat().st_size < 2 << 20
    message, mb = peak_growth("idx.read_idx_images", p)
    assert message.startswith(f"{p}: too long") and "1x28x28" in message
    assert mb < BOUNDED_MB


def test_idx_header_promising_more_than_the_limit_is_refused_before_reading(tmp_path):
    p = gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes((100000, 128, 128)))
    message, mb = peak_growth("idx.read_idx_images", p)
    assert message.startswith(f"{p}: header shape 100000x128x128 promises") and "limit" in message
    assert mb < BOUNDED_MB


@pytest.mark.parametrize("shape", [(0, 28, 28), (3, 0, 0), (3, 28, 0)])
def test_idx_zero_sized_dimension(tmp_path, shape):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(idx_bytes(shape))
    msg = refused(idx.read_idx_images, p)
    assert msg.startswith(str(p)) and "dimension of 0" in msg


def test_idx_zero_labels(tmp_path):
    p = tmp_path / "y-idx1-ubyte"
    p.write_bytes(idx_bytes((0,)))
    assert "dimension of 0" in refused(idx.read_idx_labels, p)


@pytest.mark.parametrize("content,expected", [
    (b"", "too short"),
    (b"PK\x03\x04zip", "not an IDX file"),
    (idx_bytes((2, 3, 3, 1), bytes(18)), "4 dimensions, expected"),
    (idx_bytes((2, 3, 3), bytes(18), magic=0x00000D03), "element type 0x0d"),
    (idx_bytes((2, 3, 3))[:10], "truncated header"),
    (idx_bytes((2, 3, 3), bytes(17)), "truncated"),
    (idx_bytes((2, 3, 3), bytes(19)), "too long"),
], ids=["empty", "wrong-magic", "wrong-ndim", "wrong-dtype", "cut-header", "truncated", "too-long"])
def test_idx_malformed(tmp_path, content, expected):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(content)
    msg = refused(idx.read_idx_images, p)
    assert msg.startswith(str(p)) and expected in msg


def test_idx_label_count_differs(tmp_path):
    folder = mnist_folder(tmp_path / "m", idx_bytes((3, 2, 2), bytes(range(12))), idx_bytes((2,), b"\0\1"))
    msg = refused(idx.load_mnist, str(folder))
    assert "train-labels-idx1-ubyte" in msg and "2 labels for 3 images" in msg


@pytest.mark.parametrize("value", [0, 255])
def test_idx_blank_images(tmp_path, value):
    folder = mnist_folder(tmp_path / "m", idx_bytes((4, 5, 5), bytes([value]) * 100), idx_bytes((4,), bytes(4)))
    msg = refused(idx.load_mnist, str(folder))
    assert "train-images-idx3-ubyte" in msg and f"every pixel of every image is {value}" in msg


# -- CSV -------------------------------------------------------------------------
def test_csv_unterminated_quote(tmp_path):
    p = write_text(tmp_path / "q.csv", 'x,y\n"1,2\n3,4\n5,6\n')
    assert refused(load_csv_points, p) == f"{p} line 2: unterminated quote: a \" there is never closed"


def test_csv_value_beyond_float32(tmp_path):
    p = write_text(tmp_path / "big.csv", "x,y\n1,2\n3,1e300\n")
    assert refused(load_csv_points, p) == f"{p} line 3: '1e300' is too large (float32 holds up to 3.4e38)"
    write_text(p, "1,2\n-3.5e38,0\n")  # just past float32's largest value
    assert "line 2: '-3.5e38' is too large" in refused(load_csv_points, p)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity"])
def test_csv_not_finite(tmp_path, text):
    p = write_text(tmp_path / "n.csv", f"1,2\n{text},1\n")
    assert refused(load_csv_points, p) == f"{p} line 2: {text!r} is not a finite number"
    write_text(p, f"{text},1\n1,2\n")  # first line too: not taken for a header
    assert refused(load_csv_points, p) == f"{p} line 1: {text!r} is not a finite number"


def test_csv_text_where_numbers_belong(tmp_path):
    p = write_text(tmp_path / "t.csv", "x,y\n1,2\n3,four\n")
    assert refused(load_csv_points, p) == f"{p} line 3: 'four' is not a number"


@pytest.mark.parametrize("text,line", [("1\n2\n3\n", 1), ("x\n1\n", 1), ("x,y\n1,2\n3\n", 3)])
def test_csv_one_column(tmp_path, text, line):
    p = write_text(tmp_path / "c.csv", text)
    msg = refused(load_csv_points, p)
    assert msg.startswith(f"{p} line {line}: expected ") and "got 1" in msg


def test_csv_constant_points(tmp_path):
    p = write_text(tmp_path / "c.csv", "x,y\n1,1\n1,1\n1,1\n")
    assert "every coordinate of every point is 1" in refused(load_csv_points, p)


def test_csv_empty_lines_bom_and_comments_are_fine(tmp_path):
    p = write_text(tmp_path / "ok.csv", "\ufeffx,y\n\n# a comment\n1,2\n\n  \n3,4\n")
    np.testing.assert_array_equal(load_csv_points(p).x, [[1, 2], [3, 4]])
    write_text(p, "\ufeff\n\n")
    assert refused(load_csv_points, p).startswith(f"{p}: empty file")


def test_csv_point_limit_is_checked_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_points, "MAX_CSV_POINTS", 10)
    p = write_text(tmp_path / "many.csv", "x,y\n" + "1,2\n" * 11 + "not,numbers\n")
    # the 11th point is refused; the bad line after it is never reached
    assert refused(load_csv_points, p) == f"{p} line 12: more than 10 points, the limit for a CSV"
    write_text(p, "x,y\n" + "1,2\n3,4\n" * 5)
    assert len(load_csv_points(p)) == 10


def test_csv_larger_than_the_byte_limit_is_refused_unread(tmp_path):
    p = tmp_path / "huge.csv"
    with open(p, "wb") as f:
        f.truncate(csv_points.MAX_CSV_BYTES + 1)  # sparse: costs no disk and no time
    msg = refused(load_csv_points, p)
    assert msg.startswith(f"{p}: 256 MiB, over the 256 MiB limit")


def test_csv_byte_limit_holds_for_a_pipe(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_points, "MAX_CSV_BYTES", 1 << 20)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def feed():  # one endless-looking line, 2 MB, no newline
        try:
            with open(fifo, "wb") as w:
                for _ in range(200):
                    w.write(b"1," * 5000)
        except BrokenPipeError:
            pass  # the reader stopped at the limit, as it should

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert refused(load_csv_points, fifo) == f"{fifo}: larger than the 1 MiB limit for a CSV file"
    finally:
        writer.join(10)


# -- image folders ---------------------------------------------------------------
def test_image_too_large(tmp_path):
    write_png(tmp_path / "a.png", size=(300, 200), color=(10, 20, 30))
    assert refused(load_image_folder, tmp_path) == (f"{tmp_path / 'a.png'}: 300x200 pixels, over the "
                                                    "limit of 256x256; scale the images down first")


def test_huge_image_is_refused_from_its_header_in_bounded_memory(tmp_path):
    (tmp_path / "photo.png").write_bytes(png_bytes(8000, 8000, pixels=True))  # 64 MB grey, 190 MB as RGB
    (tmp_path / "small.png").write_bytes(png_bytes(8, 8, pixels=True))
    message, mb = peak_growth("image_folder.load_image_folder", tmp_path)
    assert message.startswith(f"{tmp_path / 'photo.png'}: 8000x8000 pixels, over the limit")
    assert mb < BOUNDED_MB


@pytest.mark.parametrize("side", [10000, 20000])  # over Pillow's limit (warns), over twice it (raises)
def test_decompression_bomb(tmp_path, side):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_bytes(side, side))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        msg = refused(load_image_folder, tmp_path)
    assert msg.startswith(f"{p}: refused as a decompression bomb") and "256x256" in msg
    assert not caught, "a warning would be a second line on stderr"


def test_folder_over_the_total_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(image_folder, "MAX_DATA_BYTES", 3 * (3 * 8 * 6 * 4))  # room for 3 RGB 8x6
    for i in range(3):
        write_png(tmp_path / f"{i}.png", color=(i, 2 * i, 3 * i))
    load_image_folder(tmp_path)
    (tmp_path / "3.png").write_bytes(png_bytes(8, 6))  # undecodable: must never be reached
    msg = refused(load_image_folder, tmp_path)
    assert msg.startswith(f"{tmp_path}: 4 images of 8x6 need") and "limit" in msg


@pytest.mark.parametrize("color", [0, 255])
def test_blank_images(tmp_path, color):
    for i in range(3):
        write_png(tmp_path / f"{i}.png", color=(color,) * 3)
    msg = refused(load_image_folder, tmp_path)
    assert msg == f"{tmp_path}: every pixel of every image is {color}: constant data, nothing to learn"


def test_different_flat_images_are_fine(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png", color=(i * 100,) * 3, mode="RGB")
    assert load_image_folder(tmp_path).x.shape == (3, 1, 6, 8)


def test_mixed_sizes(tmp_path):
    write_png(tmp_path / "a.png", size=(8, 6))
    write_png(tmp_path / "b.png", size=(6, 8))
    assert refused(load_image_folder, tmp_path).startswith(f"{tmp_path / 'b.png'}: size 6x8 differs from 8x6")


def test_non_image_files_are_skipped_but_a_broken_image_is_named(tmp_path):
    write_png(tmp_path / "a.png", color=(1, 2, 3))
    write_png(tmp_path / "b.png", color=(4, 5, 6))
    (tmp_path / "notes.txt").write_text("not an image, skipped")
    (tmp_path / "Thumbs.db").write_bytes(b"\0" * 100)
    assert len(load_image_folder(tmp_path)) == 2
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    assert refused(load_image_folder, tmp_path) == f"{tmp_path / 'c.jpg'}: not an image Pillow can read"


def test_no_images(tmp_path):
    (tmp_path / "readme.md").write_text("no images here")
    (tmp_path / "empty-class").mkdir()
    assert refused(load_image_folder, tmp_path).startswith(f"{tmp_path}: no images")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_image(tmp_path):
    write_png(tmp_path / "a.png", color=(1, 2, 3))
    p = write_png(tmp_path / "b.png")
    p.chmod(0)
    assert refused(load_image_folder, tmp_path) == f"{p}: cannot read (Permission denied)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_csv_and_idx(tmp_path):
    p = write_text(tmp_path / "a.csv", "1,2\n3,4\n")
    p.chmod(0)
    assert refused(load_csv_points, p) == f"{p}: cannot read (Permission denied)"
    q = write_idx(tmp_path / "x-idx3-ubyte", np.arange(8).reshape(2, 2, 2))
    q.chmod(0)
    assert refused(idx.read_idx_images, q) == f"{q}: cannot read (Permission denied)"


# -- through the command line ----------------------------------------------------
def _csv_quote(tmp):
    return "csv", write_text(tmp / "q.csv", 'x,y\n"1,2\n3,4\n'), "q.csv"


def _csv_huge_value(tmp):
    return "csv", write_text(tmp / "v.csv", "1,2\n1e300,4\n"), "v.csv"


def _idx_zero_pixels(tmp):
    folder = mnist_folder(tmp / "m", idx_bytes((3, 0, 0)), idx_bytes((3,), bytes(3)))
    return "mnist", folder, "train-images-idx3-ubyte"


def _big_image(tmp):
    (tmp / "imgs").mkdir()
    (tmp / "imgs" / "big.png").write_bytes(png_bytes(1024, 1024))
    return "image-folder", tmp / "imgs", "big.png"


def _blank_images(tmp):
    for i in range(2):
        write_png(tmp / "imgs" / f"{i}.png", color=(0, 0, 0))
    return "image-folder", tmp / "imgs", "imgs"


@pytest.mark.parametrize("make", [_csv_quote, _csv_huge_value, _idx_zero_pixels, _big_image, _blank_images])
def test_cli_says_one_line_and_exits_2(tmp_path, capsys, make):
    dataset, path, name = make(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "vae", "--dataset", dataset, "--data-path", str(path), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("visgen: error: ") and name in lines[0], lines
    assert not (out / "config.json").exists()


def test_data_path_for_a_set_that_reads_none(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", "--dataset", "ring8", "--data-path", str(tmp_path), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("visgen: error: ring8 takes no --data-path"), lines
    assert "csv" in lines[0] and "image-folder" in lines[0]
    assert not (out / "config.json").exists()
