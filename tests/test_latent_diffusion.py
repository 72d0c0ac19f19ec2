"""Latent diffusion: a ddpm run trains on the codes of a saved vae run (composing plugins
through visgen.load_run) and decodes its samples to images."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import registry_with

from visgen import ParamError, VisgenError
from visgen.core.run import Run


@pytest.fixture(scope="module")
def vae_run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae4")
    proc = subprocess.run([sys.executable, "-m", "visgen.cli.main", "train", "vae", "--dataset", "digits",
                           "--steps", "300", "--set", "latent_dim=4", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def reg():
    return registry_with("vae", "ddpm")


def test_ddpm_diffuses_vae_codes_and_decodes_images(reg, vae_run_dir):
    torch.set_num_threads(1)
    run = Run(reg, "ddpm", "digits", params={"vae_run": str(vae_run_dir), "T": 50, "sampler": "ddim",
                                             "sample_steps": 10}, threads=1)
    run.train(150)
    tr = run.trainer
    assert tr.space_shape == (4,)                      # the diffused variable is the 4-d code
    codes = tr.autoencoder.encode(run.dataset.x[:5])
    assert codes.shape == (5, 4)
    assert np.allclose(tr.data.x[:5].numpy() * tr.scale, codes, atol=1e-5)
    samples = tr.sample(8)
    assert samples.shape == (8, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    # decoded samples are what the VAE's decoder makes of the sampled codes
    grid = tr.snapshot("samples")
    assert grid.images.shape[1:] == (8, 8)
    frames = tr.snapshot("reverse")
    assert frames.labels[0].startswith("t = 50 ") and frames.labels[-1].startswith("t = 0 ")


def test_latent_diffusion_reports_no_likelihood_and_says_why(reg, vae_run_dir):
    """DDPM's bound would be on the VAE's codes, not on the images."""
    from visgen.core.likelihood import heldout_nll

    run = Run(reg, "ddpm", "digits", params={"vae_run": str(vae_run_dir), "T": 50}, threads=1)
    run.build()
    out = heldout_nll(run.trainer, run.heldout)
    assert out["likelihood"] is None and "VAE's codes" in out["why"]


def test_latent_diffusion_refuses_bad_runs_and_points(reg, vae_run_dir, tmp_path):
    with pytest.raises(VisgenError, match="not a visgen run folder"):
        Run(reg, "ddpm", "digits", params={"vae_run": str(tmp_path)}).build()
    with pytest.raises(ParamError, match="needs image data"):
        Run(reg, "ddpm", "ring8", params={"vae_run": str(vae_run_dir)}).build()
