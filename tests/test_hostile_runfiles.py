"""Hostile run folders and arguments: each is refused with exit status 2 and one line on
stderr naming the file or the argument, never a traceback, and the run folder is left as it was.

Every hostile folder starts as a copy of one real small run (``visgen train vae`` for 3
steps, made once) with one field of ``config.json`` or ``checkpoint.pt`` spoiled.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visgen.cli import sample_command
from visgen.cli.main import main
from visgen.core import runfiles as rf

SMALL_VAE = ["--set", "hidden=32"]
TINY_DDPM = ["--set", "T=10", "--set", "hidden=16", "--set", "sampler=ddim", "--set", "sample_steps=2"]


# -- run folders made once ----------------------------------------------------------------------
def _train(out: Path, *args) -> Path:
    assert main(["train", *args, "--steps", "3", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A real run folder: a small VAE trained 3 steps on digits."""
    torch.set_num_threads(1)
    return _train(tmp_path_factory.mktemp("base") / "vae", "vae", "--dataset", "digits", *SMALL_VAE)


@pytest.fixture(scope="module")
def ldm(tmp_path_factory, base) -> Path:
    """A tiny latent-diffusion run (ddpm on the codes of ``base``)."""
    return _train(tmp_path_factory.mktemp("base") / "ldm", "ddpm", "--dataset", "digits",
                  "--set", f"vae_run={base}", *TINY_DDPM)


def copy_run(src: Path, dst: Path, config=None, checkpoint=None) -> Path:
    """Copy a run folder to ``dst``, then spoil it: ``config(dict)`` and ``checkpoint(blob)``
    return the new content (a dict, or raw ``str``/``bytes`` to write as is)."""
    shutil.copytree(src, dst)
    if config is not None:
        new = config(json.loads((dst / rf.CONFIG).read_text()))
        _write(dst / rf.CONFIG, new if isinstance(new, (str, bytes)) else json.dumps(new))
    if checkpoint is not None:
        new = checkpoint(torch.load(dst / rf.CHECKPOINT, weights_only=True))
        if isinstance(new, bytes):
            (dst / rf.CHECKPOINT).write_bytes(new)
        else:
            torch.save(new, dst / rf.CHECKPOINT)
    return dst


def _write(path: Path, content) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes and modification time."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, argv, *needles, unchanged=()) -> str:
    """Run ``visgen argv`` in this process; assert exit status 2, exactly one line on stderr
    starting ``visgen: error:`` and holding every needle, and that the folders in
    ``unchanged`` were not touched. Returns the line."""
    before = {f: snapshot(f) for f in unchanged}
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("visgen: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    for f in unchanged:
        assert snapshot(f) == before[f], f"{f} changed"
    return lines[0]


def sample_refused(capsys, run: Path, tmp_path, *needles, args=()) -> str:
    """``visgen sample run`` is refused naming ``needles``; the run and the output are untouched."""
    out = tmp_path / "out.png"
    line = refused(capsys, ["sample", run, "--n", 4, *args, "--out", out], *needles, unchanged=[run])
    assert not out.exists()
    return line


def put(key, value):
    """A spoiler that sets ``key`` (a dotted path: ``params.hidden``) to ``value``."""
    def spoil(blob):
        *parents, last = key.split(".")
        d = blob
        for k in parents:
            d = d[k]
        d[last] = value
        return blob
    return spoil


def drop(key):
    def spoil(blob):
        del blob[key]
        return blob
    return spoil


# -- config.json ----------------------------------------------------------------------------
CONFIGS = {
    # name: (spoiler, what the line names besides config.json)
    "params a list": (put("params", [1, 2]), "'params'"),
    "params null": (put("params", None), "'params'"),
    "seed text": (put("seed", "abc"), "'seed'"),
    "seed not whole": (put("seed", 1.5), "'seed'"),
    "steps text": (put("steps", "many"), "'steps'"),
    "numeric param text": (put("params.hidden", "lots"), "hidden"),
    "numeric param as text that parses": (put("params.lr", "0.001"), "lr"),
    "bool for a number": (put("params.hidden", True), "hidden"),
    "param out of range": (put("params.hidden", 10**9), "hidden"),
    "choice of wrong type": (put("params.arch", 3), "arch"),
    "unknown param": (put("params.bogus", 1), "'bogus'"),
    "no model": (drop("model"), "'model'"),
    "no dataset": (drop("dataset"), "'dataset'"),
    "no params": (drop("params"), "'params'"),
    "model not text": (put("model", 3), "'model'"),
    "unknown model": (put("model", "nope"), "'nope'"),
    "unknown dataset": (put("dataset", "nope"), "'nope'"),
    "dataset of the wrong kind": (put("dataset", "ring8"), "ring8"),
    "data_path not text": (put("data_path", 3), "'data_path'"),
    "a list": (lambda c: "[1, 2]", "list"),
    "a string": (lambda c: '"vae"', "text"),
    "a number": (lambda c: "42", "integer"),
    "null": (lambda c: "null", "null"),
    "invalid JSON": (lambda c: '{"model": "vae",', "not valid JSON"),
    "not UTF-8": (lambda c: b"\xff\xfe\x00garbage", "not valid JSON"),
    "nested too deeply": (lambda c: "[" * 200_000 + "]" * 200_000, "nested"),
    "too large": (lambda c: " " * (rf.MAX_CONFIG_BYTES + 1) + "{}", "too large"),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_malformed_config(base, tmp_path, capsys, case):
    spoil, needle = CONFIGS[case]
    run = copy_run(base, tmp_path / "run", config=spoil)
    sample_refused(capsys, run, tmp_path, run / "config.json", needle)


# -- checkpoint.pt ------------------------------------------------------------------------------
class Payload:
    """Unpickling this calls ``open(marker, "w")``: code execution on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _truncated(frac):
    def spoil(blob) -> bytes:
        buf = io.BytesIO()
        torch.save(blob, buf)
        return buf.getvalue()[: int(buf.tell() * frac)]
    return spoil


CHECKPOINTS = {
    "other model": (put("model", "gan"), "'gan'"),
    "other dataset": (put("dataset", "ring8"), "'ring8'"),
    "step text": (put("step", "abc"), "'step'"),
    "step negative": (put("step", -1), "'step'"),
    "seed text": (put("seed", "x"), "'seed'"),
    "no step": (drop("step"), "'step'"),
    "params a list": (put("params", [1]), "'params'"),
    "params keyed by numbers": (put("params", {1: 2}), "'params'"),
    "param text": (put("params.hidden", "x"), "hidden"),
    "unknown param": (put("params.bogus", 1), "'bogus'"),
    "structure differs from config": (put("params.hidden", 64), "hidden=64"),
    "trainer a list": (put("trainer", [1]), "'trainer'"),
    "weights of another shape": (lambda b: {**b, "trainer": {**b["trainer"], "model": {}}}, "do not fit"),
    "not a dict": (lambda b: [1, 2], "not a visgen checkpoint"),
    "truncated to half": (_truncated(0.5), "not a readable"),
    "truncated to 95%": (_truncated(0.95), "not a readable"),
    "empty": (lambda b: b"", "not a readable"),
    "garbage": (lambda b: os.urandom(4096), "not a readable"),
}


@pytest.mark.parametrize("case", list(CHECKPOINTS))
def test_malformed_checkpoint(base, tmp_path, capsys, case):
    spoil, needle = CHECKPOINTS[case]
    run = copy_run(base, tmp_path / "run", checkpoint=spoil)
    sample_refused(capsys, run, tmp_path, run / "checkpoint.pt", needle)


def test_crafted_pickle_is_never_run(base, tmp_path, capsys):
    marker = tmp_path / "pwned.txt"
    run = copy_run(base, tmp_path / "run", checkpoint=put("trainer.evil", Payload(marker)))
    sample_refused(capsys, run, tmp_path, run / "checkpoint.pt", "not a readable")
    assert not marker.exists(), "loading a checkpoint ran code from the file"
    torch.load(run / "checkpoint.pt", weights_only=False)  # the file really is dangerous
    assert marker.exists()


def test_the_untouched_copy_samples(base, tmp_path, capsys):
    """The hostile cases above start from a folder that works."""
    run = copy_run(base, tmp_path / "run")
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "ok.png")]) == 0
    assert (tmp_path / "ok.png").is_file()


# -- vae_run: runs that name runs -----------------------------------------------------------------
def _vae_run(value):
    """Spoil config and checkpoint alike: they must agree, or the mismatch is refused first."""
    return {"config": put("params.vae_run", value), "checkpoint": put("params.vae_run", value)}


def test_vae_run_naming_its_own_run(ldm, tmp_path, capsys):
    run = copy_run(ldm, tmp_path / "self", **_vae_run("."))
    line = sample_refused(capsys, run, tmp_path, "cycle", run)
    assert line.count(str(run)) == 2, line


def test_vae_runs_naming_each_other(ldm, tmp_path, capsys):
    a, b = tmp_path / "A", tmp_path / "B"
    copy_run(ldm, a, **_vae_run(str(b)))
    copy_run(ldm, b, **_vae_run("../A"))  # relative to B's folder
    before = snapshot(b)
    line = sample_refused(capsys, a, tmp_path, "cycle", f"{a} -> {b} -> ")
    assert line.startswith("visgen: error: run folders name each other in a cycle")
    assert snapshot(b) == before
    # training on one of them meets the same cycle, before anything is written
    out = tmp_path / "new"
    refused(capsys, ["train", "ddpm", "--dataset", "digits", "--set", f"vae_run={a}", *TINY_DDPM,
                     "--steps", 1, "--out", out], "cycle", unchanged=[a, b])
    assert not out.exists()


def test_vae_runs_nested_too_deep(ldm, tmp_path, capsys):
    """A chain of distinct folders (no cycle ``realpath`` could see) still ends, at a named depth."""
    from visgen.composition import MAX_NESTED_RUNS

    n = MAX_NESTED_RUNS + 1
    for i in range(n):
        copy_run(ldm, tmp_path / f"r{i}", **_vae_run(f"../r{i + 1}"))
    sample_refused(capsys, tmp_path / "r0", tmp_path, f"nest deeper than {MAX_NESTED_RUNS}",
                   f"{tmp_path / 'r0'} -> ")


def test_vae_run_is_found_beside_the_run_that_names_it(ldm, base, tmp_path, capsys, monkeypatch):
    """A relative vae_run is taken relative to the folder of the run that names it, so the
    pair loads from any current directory."""
    shutil.copytree(base, tmp_path / "pair" / "vae")
    run = copy_run(ldm, tmp_path / "pair" / "ldm", **_vae_run("../vae"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "x.png")]) == 0
    assert (tmp_path / "x.png").is_file()


def test_vae_run_relative_to_the_training_folder_still_loads(ldm, base, tmp_path, monkeypatch):
    """Runs saved before took vae_run relative to where ``visgen train`` ran: found there too."""
    shutil.copytree(base, tmp_path / "runs" / "vae")
    run = copy_run(ldm, tmp_path / "runs" / "ldm", **_vae_run("runs/vae"))
    monkeypatch.chdir(tmp_path)
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "x.png")]) == 0


# -- arguments -------------------------------------------------------------------------------------
@pytest.fixture
def no_window(monkeypatch):
    """The window is never opened: an argument that got past the checks would return 0."""
    monkeypatch.setattr("visgen.gui.app.run_gui", lambda args: 0)


@pytest.mark.parametrize("seed", [str(2**70), str(2**63), "-1"])
def test_seed_out_of_range(base, tmp_path, capsys, no_window, seed):
    sample_refused(capsys, base, tmp_path, "--seed", seed, args=["--seed", seed])
    out = tmp_path / "t"
    refused(capsys, ["train", "vae", "--dataset", "digits", "--seed", seed, "--out", out], "--seed", seed)
    assert not out.exists()
    refused(capsys, ["--seed", seed], "--seed", seed)


def _devices():
    yield "cuda:99"
    yield "tpu"
    if not torch.cuda.is_available():
        yield "cuda"


@pytest.mark.parametrize("device", list(_devices()))
def test_device_not_on_this_machine(base, tmp_path, capsys, no_window, device):
    line = sample_refused(capsys, base, tmp_path, "--device", repr(device), "available: auto, cpu",
                          args=["--device", device])
    out = tmp_path / "t"
    assert refused(capsys, ["train", "vae", "--dataset", "digits", "--device", device, "--out", out]) == line
    assert not out.exists()
    assert refused(capsys, ["--device", device]) == line


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1", "1e10", "soon"])
def test_quit_after_not_a_time(capsys, no_window, seconds):
    refused(capsys, ["--quit-after", seconds], "--quit-after", seconds)


@pytest.mark.parametrize("n", [0, -3, sample_command.MAX_SAMPLES + 1, 100_000_000])
def test_sample_count_out_of_range(base, tmp_path, capsys, n):
    sample_refused(capsys, base, tmp_path, "--n", args=["--n", n])


def test_png_grid_too_large(base, tmp_path, capsys):
    sample_refused(capsys, base, tmp_path, "--n", f"{sample_command.MAX_GRID_IMAGES:,}",
                   args=["--n", sample_command.MAX_GRID_IMAGES + 1])


def test_samples_beyond_the_memory_limit(base, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sample_command, "MAX_SAMPLE_BYTES", 4 * 64 * 10)  # ten 8x8 digits
    sample_refused(capsys, base, tmp_path, "--n", "GiB", args=["--n", 11])


# -- --out ---------------------------------------------------------------------------------------------
def _read_only(tmp_path) -> Path:
    """A folder this process cannot write: mode 500, or /proc/self where root ignores modes."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro if not os.access(ro, os.W_OK) else Path("/proc/self")


OUTS = {
    # name: (--out under tmp_path, what the line says)
    "missing folder": (lambda t: t / "missing" / "x.png", "does not exist"),
    "an existing folder": (lambda t: t / "dir.png", "is a folder"),
    "under a regular file": (lambda t: t / "file.txt" / "x.png", "is a file"),
    "deep under a regular file": (lambda t: t / "file.txt" / "a" / "x.png", "is a file"),
    "read-only folder": (lambda t: _read_only(t) / "x.png", "cannot be written"),
    "not png or csv": (lambda t: t / "x.jpg", ".png or .csv"),
    "csv of images": (lambda t: t / "x.csv", "2D points"),
}


@pytest.mark.parametrize("case", list(OUTS))
def test_bad_out(base, tmp_path, capsys, case):
    where, needle = OUTS[case]
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "file.txt").write_text("keep me")
    out = where(tmp_path)
    before = snapshot(tmp_path)
    try:
        refused(capsys, ["sample", base, "--n", 4, "--out", out], f"--out {out}", needle, unchanged=[base])
    finally:
        if (tmp_path / "ro").exists():
            (tmp_path / "ro").chmod(0o700)  # so pytest can clean up
    assert snapshot(tmp_path) == before and not out.is_file()


def test_failed_write_leaves_no_file(base, tmp_path, capsys, monkeypatch):
    """A disk that fills mid-write: no half PNG, no temporary file, the old file kept."""
    def half_then_full(path, *args, **kwargs):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rf, "save_samples_png", half_then_full)
    out = tmp_path / "x.png"
    out.write_bytes(b"old")
    refused(capsys, ["sample", base, "--n", 4, "--out", out], f"--out {out}", "No space left")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


# -- data sets too small to train on ----------------------------------------------------------------
@pytest.mark.parametrize("model", ["dcgan", "vae"])
def test_one_image_data_set(tmp_path, capsys, model):
    data = tmp_path / "one"
    data.mkdir()
    Image.fromarray((np.arange(256).reshape(16, 16)).astype("uint8")).save(data / "a.png")
    out = tmp_path / "run"
    refused(capsys, ["train", model, "--dataset", "image-folder", "--data-path", data, "--steps", 3,
                     "--out", out], str(data), "1 example", "at least 2", unchanged=[data])
    assert not out.exists()
