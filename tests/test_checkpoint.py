"""Checkpoints: a round trip through Run, and files that must be refused."""
import os
import time

import pytest
import torch

from visgen.core.checkpoint import FORMAT, VERSION, read_checkpoint, save_checkpoint
from visgen.core.errors import CheckpointError
from visgen.core.run import Run, RunState

SMALL = {"hidden": 32, "batch_size": 32}


def vae_run(registry, stop_runs, seed=0, **params):
    run = Run(registry, "vae", "digits", params={**SMALL, **params}, seed=seed, threads=1, device="cpu")
    stop_runs(run)
    return run


def weights(run):
    return {k: v.detach().clone() for k, v in run.trainer.model.state_dict().items()}


@pytest.fixture
def saved(registry, stop_runs, tmp_path):
    """A VAE trained 6 steps on digits and saved; returns (run, path)."""
    run = vae_run(registry, stop_runs)
    run.train(6)
    path = tmp_path / "ck.pt"
    assert run.save_checkpoint(path).result(timeout=30) == path
    return run, path


def test_round_trip_restores_weights_step_and_params(registry, stop_runs, saved):
    run, path = saved
    assert path.is_file() and not path.with_name("ck.pt.tmp").exists()
    blob = read_checkpoint(path)
    assert blob["format"] == FORMAT and blob["model"] == "vae" and blob["dataset"] == "digits"
    assert blob["step"] == 6 and blob["params"]["hidden"] == 32

    other = vae_run(registry, stop_runs, seed=1, latent_dim=5, lr=0.01)
    other.build()
    before = weights(other)
    assert before.keys() != weights(run).keys() or any(
        not torch.equal(before[k], v) for k, v in weights(run).items())
    assert other.load_checkpoint(path).result(timeout=30) == 6
    assert other.step == 6 and other.trainer.step_count == 6
    # structural parameters come from the file, live ones keep their current value
    assert other.params.values["latent_dim"] == 2 and other.params.values["hidden"] == 32
    assert other.params.values["lr"] == 0.01
    a, b = weights(run), weights(other)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the optimiser state came along too: both take the same next step
    sa, sb = run.trainer.opt.state_dict(), other.trainer.opt.state_dict()
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        assert torch.equal(sa["state"][i]["exp_avg"], sb["state"][i]["exp_avg"])
    # and the loaded model keeps training
    other.train(2)
    assert other.step == 8 and other.state == RunState.PAUSED


def test_save_and_load_while_the_worker_runs(registry, stop_runs, tmp_path):
    run = vae_run(registry, stop_runs)
    run.start()
    t0 = time.monotonic()
    while run.step < 3 and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    path = tmp_path / "sub" / "live.pt"
    run.save_checkpoint(path).result(timeout=30)   # taken in the worker, between steps
    step = read_checkpoint(path)["step"]
    assert step >= 3
    run.load_checkpoint(path).result(timeout=30)    # in the worker: builds a new trainer, loads, swaps
    assert run.step == step and run.state == RunState.PAUSED  # loading pauses a running run


def _assert_refused(run, path, *needles):
    with pytest.raises(CheckpointError) as ei:
        run.load_checkpoint(path).result(timeout=30)
    msg = str(ei.value)
    assert str(path) in msg
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    return msg


def test_missing_file(registry, stop_runs, tmp_path):
    _assert_refused(vae_run(registry, stop_runs), tmp_path / "nope.pt", "no such checkpoint")


def test_random_bytes(registry, stop_runs, tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096))
    _assert_refused(vae_run(registry, stop_runs), path, "not a readable visgen checkpoint")


def test_empty_file(registry, stop_runs, tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    _assert_refused(vae_run(registry, stop_runs), path)


def test_truncated(registry, stop_runs, saved, tmp_path):
    _, good = saved
    data = good.read_bytes()
    for frac in (0.5, 0.95):
        path = tmp_path / f"truncated{frac}.pt"
        path.write_bytes(data[: int(len(data) * frac)])
        _assert_refused(vae_run(registry, stop_runs), path, "not a readable visgen checkpoint")


class Payload:
    """Unpickling this calls ``open(marker, "w")``: code execution on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_never_run(registry, stop_runs, tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    blob = {"format": FORMAT, "version": VERSION, "model": "vae", "dataset": "digits",
            "params": {}, "seed": 0, "step": 1, "trainer": {"x": Payload(marker)}}
    torch.save(blob, path)
    assert not marker.exists()
    run = vae_run(registry, stop_runs)
    _assert_refused(run, path, "not a readable visgen checkpoint")
    assert not marker.exists(), "loading a checkpoint ran code from the file"
    assert run.trainer is None
    # the file really is dangerous: an unsafe load runs the payload
    obj = torch.load(path, weights_only=False)
    obj["trainer"]["x"].close()
    assert marker.exists()


class Plain:
    """An ordinary class: loading an instance would need to import and build it."""

    def __init__(self):
        self.x = 1


def test_plain_custom_class_instance_refused(registry, stop_runs, tmp_path):
    path = tmp_path / "custom.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model": "vae", "dataset": "digits",
                "params": {}, "trainer": {}, "obj": Plain()}, path)
    _assert_refused(vae_run(registry, stop_runs), path)


def test_other_model(registry, stop_runs, tmp_path):
    path = save_checkpoint(tmp_path / "gan.pt", model="gan", dataset="ring8", params={"lr": 1e-3},
                           seed=0, step=10, trainer_state={"G": {"w": torch.zeros(2)}})
    run = vae_run(registry, stop_runs)
    _assert_refused(run, path, "'gan'", "'vae'")
    assert run.trainer is None and run.step == 0


def test_plain_torch_file(registry, stop_runs, tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"a": 1}, path)
    _assert_refused(vae_run(registry, stop_runs), path, "not a visgen checkpoint")
    path2 = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path2)
    _assert_refused(vae_run(registry, stop_runs), path2, "not a visgen checkpoint")


def test_wrong_version_and_missing_keys(registry, stop_runs, tmp_path):
    path = tmp_path / "v9.pt"
    torch.save({"format": FORMAT, "version": 9, "model": "vae"}, path)
    _assert_refused(vae_run(registry, stop_runs), path, "version 9")
    path2 = tmp_path / "nokeys.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model": "vae"}, path2)
    _assert_refused(vae_run(registry, stop_runs), path2, "lacks")


def test_weights_that_do_not_fit(registry, stop_runs, saved, tmp_path):
    run, _ = saved
    path = save_checkpoint(tmp_path / "misfit.pt", model="vae", dataset="digits",
                           params={**run.params.values, "hidden": 64}, seed=0, step=6,
                           trainer_state=run.trainer.state_dict())
    _assert_refused(vae_run(registry, stop_runs), path, "do not fit")
