"""The "compare the families" preset: one run of each family of the course on one data set.

The step counts are chosen to finish together in about three minutes on a 2-core CPU
(measured alone on the development machine: on ring8 vae 430, gan 250, ddpm 140 and
realnvp 140 steps/s; on digits vae 400, dcgan 85, ddpm 48, realnvp 27 and pixelcnn 99),
and long enough for each family to show its character: enough to compare, not to win.
"""
from __future__ import annotations

#: (model, steps) per data kind, in the course's order: VAE, GAN, diffusion, flow, autoregressive.
FAMILIES = {
    "points": [("vae", 3000), ("gan", 3000), ("ddpm", 3000), ("realnvp", 3000)],
    "images": [("vae", 3000), ("dcgan", 1000), ("ddpm", 2000), ("realnvp", 2000), ("pixelcnn", 1500)],
}


def family_runs(registry, dataset: str) -> list:
    """``[(model, steps)]`` of the preset on ``dataset``: every family whose model is installed
    and trains on that kind of data (raises VisgenError for an unknown data set)."""
    kind = registry.dataset(dataset).kind
    return [(model, steps) for model, steps in FAMILIES.get(kind, [])
            if model in registry.models and kind in registry.models[model].data_kinds]
