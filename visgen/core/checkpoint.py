"""Checkpoint files that can never run code when loaded.

A checkpoint is a plain dict of tensors and JSON-like values written with
``torch.save`` and read with ``torch.load(weights_only=True)``, which refuses
anything that would need unpickling arbitrary objects.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from .errors import CheckpointError

FORMAT = "visgen.checkpoint"
VERSION = 1


def save_checkpoint(path, *, model: str, dataset: str, params: dict, seed: int, step: int,
                    trainer_state: dict, dataset_path=None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "version": VERSION, "model": model, "dataset": dataset,
            "dataset_path": None if dataset_path is None else str(dataset_path),
            "params": dict(params), "seed": int(seed), "step": int(step), "trainer": trainer_state}
    # Serialised in memory first: torch.save's own writer reports a full disk as
    # "unexpected pos 8960 vs 8848"; a plain write says "No space left on device".
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path) -> dict:
    """Load and check a checkpoint; raise CheckpointError with one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, pickle that wants code, truncated file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable visgen checkpoint ({first[:160]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a visgen checkpoint (no '{FORMAT}' header)")
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {blob.get('version')} is not supported (want {VERSION})")
    for key in ("model", "dataset", "params", "trainer", "seed", "step"):
        if key not in blob:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    check_header(path, blob)
    return blob


def check_header(path, blob: dict) -> None:
    """Check the types of a checkpoint's fields (not the weights, which only the trainer can
    judge), so code that reads them never meets a list where a dict belongs."""
    from .runfiles import MAX_SEED, MAX_STEP, check_int, require

    def need(key, types, optional=False):
        return require(path, blob, key, types, optional, error=CheckpointError)

    need("model", str)
    need("dataset", str)
    need("dataset_path", (str, type(None)), optional=True)
    need("trainer", dict)
    bad = next((k for k in need("params", dict) if not isinstance(k, str)), None)
    if bad is not None:
        raise CheckpointError(f"{path}: 'params' has a key {bad!r} that is not a parameter name")
    # Runs trained before seeds were checked may hold a negative one; loading ignores it.
    check_int(path, blob, "seed", -2**63, MAX_SEED, error=CheckpointError)
    check_int(path, blob, "step", 0, MAX_STEP, error=CheckpointError)
