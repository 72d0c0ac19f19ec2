"""The VQ-VAE: straight-through gradients, the codebook's EMA and loss updates, dead codes."""
import numpy as np
import pytest
import torch

from conftest import registry_with
from visgen import Bars, ImageGrid
from visgen.core.run import Run
from visgen_vae.vq import VectorQuantiser, VQVAE


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def test_the_straight_through_estimator_hands_the_decoders_gradient_to_the_encoder():
    vq = VectorQuantiser(8, 3, ema=True)
    z_e = torch.randn(5, 3, requires_grad=True)
    z_q, idx, _, _ = vq(z_e)
    assert torch.allclose(z_q.detach(), vq.codebook[idx], atol=1e-6)  # forward: the nearest codes
    w = torch.randn(5, 3)
    (z_q * w).sum().backward()
    assert torch.equal(z_e.grad, w)                          # backward: identity, dz_q/dz_e := I
    # in the whole model: a reconstruction loss alone reaches the encoder's first layer
    model = VQVAE((1, 8, 8), 16, 4, 32, ema=True)
    out, _, _, _ = model(torch.rand(6, 1, 8, 8))
    out.sum().backward()
    first = model.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_nearest_is_the_nearest():
    vq = VectorQuantiser(4, 2, ema=True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]))
    assert vq.nearest(torch.tensor([[0.9, 0.1], [0.1, 0.2], [4.0, 4.5], [0.2, 0.7]])).tolist() == [1, 0, 3, 2]


def test_the_ema_update_moves_each_code_to_the_running_mean_of_its_vectors():
    vq = VectorQuantiser(2, 2, ema=True, decay=0.5)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vq.embed_sum.copy_(vq.codebook)
    vq.cluster_size.fill_(1.0)
    z = torch.tensor([[1.0, 0.0], [3.0, 0.0], [9.0, 11.0]])          # two vectors to code 0, one to code 1
    vq.train()
    vq(z)
    n = torch.tensor([0.5 * 1 + 0.5 * 2, 0.5 * 1 + 0.5 * 1])         # n_k <- g n_k + (1 - g) count_k
    m = torch.tensor([[0.5 * 0 + 0.5 * 4.0, 0.0], [0.5 * 10 + 0.5 * 9, 0.5 * 10 + 0.5 * 11]])
    smoothed = (n + 1e-5) / (n.sum() + 2e-5) * n.sum()
    assert torch.allclose(vq.codebook, m / smoothed[:, None], atol=1e-5)
    assert torch.allclose(vq.codebook[0], torch.tensor([2.0 / 1.5, 0.0]), atol=1e-4)
    before = vq.codebook.clone()
    vq.eval()
    vq(z)                                                             # evaluation never moves the codebook
    assert torch.equal(vq.codebook, before)
    assert not any(p is vq.codebook for p in vq.parameters())         # EMA codes are no parameters


def test_with_the_codebook_loss_only_that_term_moves_the_codes():
    vq = VectorQuantiser(4, 2, ema=False)
    z = torch.randn(10, 2, requires_grad=True)
    _, _, cb, commit = vq(z)
    (commit).backward(retain_graph=True)
    assert vq.codebook.grad is None or vq.codebook.grad.abs().sum() == 0   # sg[e] in the commitment
    cb.backward()
    assert vq.codebook.grad.abs().sum() > 0


def make(dataset="digits", **params):
    run = Run(registry_with("vae"), "vqvae", dataset, params={"hidden": 64, **params}, seed=0, device="cpu", threads=1)
    run.build()
    return run


def test_dead_codes_are_counted_and_restarts_bring_them_back():
    """ring8, 1,000 steps (measured, seed 0): 60 of 64 codes dead and perplexity 3.7 without
    restarts; none dead and perplexity 44 with them."""
    plain, restarted = make("ring8"), make("ring8", dead_restart=True)
    for run in (plain, restarted):
        run.train(600)
    last = lambda run, k: run.scalars.series([k])[k][1][-1]  # noqa: E731
    assert last(plain, "dead_codes") >= 40 and last(restarted, "dead_codes") == 0
    assert last(restarted, "perplexity") > 3 * last(plain, "perplexity")
    assert restarted.trainer.restarted > 0 and plain.trainer.restarted == 0
    usage = plain.trainer.snapshot("usage")
    assert isinstance(usage, Bars) and len(usage.values) == 64
    assert usage.values.sum() == pytest.approx(1.0) and usage.marked.sum() >= 40


def test_image_views_code_map_and_honest_samples():
    run = make(codes=16)
    run.train(30)
    cmap = run.trainer.snapshot("code_map")
    assert isinstance(cmap, ImageGrid) and cmap.images.shape == (16, 8, 8, 3)   # 8 images, each then its code grid
    assert "4x4 code grid" in cmap.title
    x = run.trainer.data.x[run.trainer.view_idx[:1]]
    assert np.allclose(cmap.images[0, :, :, 0], x[0, 0].numpy())
    samples = run.trainer.snapshot("samples")
    assert samples.images.shape == (64, 8, 8) and "no prior" in samples.title
    assert run.trainer.likelihood is None and "prior" in run.trainer.no_likelihood_why


def test_a_loaded_run_does_not_restart_its_whole_codebook(tmp_path):
    run = make("ring8", dead_restart=True)
    run.train(300)
    path = tmp_path / "c.pt"
    run.save_checkpoint(path).result()
    again = make("ring8", dead_restart=True)
    again.load_checkpoint(path).result()
    before = again.trainer.model.vq.codebook.clone()
    again.train(1)
    assert again.trainer.restarted == 0
    assert torch.allclose(again.trainer.model.vq.codebook, before, atol=0.5)
