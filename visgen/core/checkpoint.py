"""Checkpoint files that can never run code when loaded.

A checkpoint is a plain dict of tensors and JSON-like values written with
``torch.save`` and read with ``torch.load(weights_only=True)``, which refuses
anything that would need unpickling arbitrary objects.
"""
from __future__ import annotations

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
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
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
    for key in ("model", "dataset", "params", "trainer"):
        if key not in blob:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    return blob
