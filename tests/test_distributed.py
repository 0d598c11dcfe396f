"""Data-parallel training (repro.train.distributed): 2 gloo processes against 1 at the same global batch.

One spawn of two CPU ranks (one thread each) runs every multi-process case; the tests compare what it
wrote with single-process runs of the same configs.

Tolerance: the 1- and 2-process runs compute the same loss on the same examples and noise; they differ
only in float32 summation order (a mean over 2 half-batches, then DDP's average, against one mean over
the batch; the convolutions' and SyncBatchNorm's reductions split the same way). That changes a
gradient component by a few float32 ulps of the terms summed into it (~1e-7 relative to them). Adam's step
is lr * m / (sqrt(v) + 1e-8), about lr per weight whatever the gradient's size, so where a component
nearly cancels (|g| ~ 1e-8) that absolute error becomes a visible fraction of a step: we allow ATOL = 1e-4,
a tenth of one step at lr = 1e-3 (observed: 2e-7 for the diffusion U-Net, 2e-5 for the DCGAN over 6
steps), plus RTOL = 1e-4. A real difference in what the ranks compute (another shard, other noise,
per-rank BatchNorm statistics) moves weights by ~lr per step: the per-rank BatchNorm run below differs
by 4e-3..8e-3, and is checked to lie beyond 10 x ATOL.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from repro.data import ImageDataset
from repro.data.batches import DeviceBatches
from repro.train.diffusion import DiffusionTrainConfig, train_diffusion
from repro.train.distributed import World
from repro.train.gan import GANTrainConfig, train_gan

ATOL, RTOL = 1e-4, 1e-4
DIFFUSION = DiffusionTrainConfig(
    model="tiny", model_kwargs=dict(model_channels=8, channel_mult=[1, 2], norm_groups=4, attention_resolutions=[4],
                                    dropout=0.0),
    schedule="cosine", num_timesteps=50, variance="learned_range", loss_type="hybrid",
    timestep_sampler="loss-second-moment", batch_size=8, epochs=2, lr=1e-3, warmup_steps=2, ema_decay=0.9,
    track_steps=2, grid_samples=2, track_batch_size=2, seed=4)
GAN = GANTrainConfig(image_size=16, nz=8, ngf=4, ndf=4, batch_size=16, epochs=2, grid_samples=4, lr_G=1e-3,
                     lr_D=1e-3, seed=5)


def _images(n: int, size: int, seed: int) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset("random", "random images", "train", images, torch.zeros(n, dtype=torch.long), ["x"], "test")


def _ddpm_data() -> ImageDataset:
    return _images(24, 8, 0)


def _gan_data() -> ImageDataset:
    return _images(48, 16, 1)


EVAL_N = 5  # odd: the ranks draw 3 each and the gathered 6 are cut to 5


def _distinct(sample_fn) -> dict:
    """How many samples the evaluation got, and how many of them differ (ranks sharing a noise stream
    would draw the same ones)."""
    x = sample_fn(EVAL_N)
    return {"n": x.shape[0], "distinct": len({tuple(v.flatten().tolist()) for v in x})}


def _worker(rank: int, world_size: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    out = Path(out)
    try:
        try:  # 2 ranks cannot split a batch of 7: refused before any work
            train_diffusion(dataclasses.replace(DIFFUSION, batch_size=7), _ddpm_data(), out / "odd", device="cpu")
        except ValueError as err:
            (out / f"odd_error_rank{rank}.txt").write_text(str(err))
        train_diffusion(DIFFUSION, _ddpm_data(), out / "ddpm", device="cpu")
        train_diffusion(dataclasses.replace(DIFFUSION, epochs=1), _ddpm_data(), out / "ddpm_resumed", device="cpu")
        train_diffusion(DIFFUSION, _ddpm_data(), out / "ddpm_resumed", device="cpu", resume=True)
        train_gan(dataclasses.replace(GAN, sync_bn=True), _gan_data(), out / "gan_sync", device="cpu")
        train_gan(GAN, _gan_data(), out / "gan_per_rank", device="cpu")
        train_diffusion(dataclasses.replace(DIFFUSION, epochs=1), _ddpm_data(), out / "ddpm_eval", device="cpu",
                        evaluate=_distinct)
        train_gan(dataclasses.replace(GAN, epochs=1), _gan_data(), out / "gan_eval", device="cpu", evaluate=_distinct)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """The folder the two ranks trained in."""
    out = tmp_path_factory.mktemp("ranks")
    init_file = Path(tempfile.mkdtemp()) / "init"
    mp.spawn(_worker, args=(2, str(init_file), str(out)), nprocs=2, join=True)
    return out


@pytest.fixture
def one_thread():
    """The single-process reference on one thread, like each rank (and quick on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _last(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


def _assert_close(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=ATOL, rtol=RTOL, msg=lambda m: f"{what}.{k}: {m}")


def test_rank_slices_of_each_global_batch_are_the_single_process_batch():
    data = torch.arange(40, dtype=torch.float32)[:, None]
    one = [x for x, _ in DeviceBatches(data, None, 8, seed=3).epoch(2)]
    ranks = [[x for x, _ in DeviceBatches(data, None, 8, seed=3, rank=r, world_size=2).epoch(2)] for r in (0, 1)]
    for i, x in enumerate(one):
        assert torch.equal(torch.cat([ranks[0][i], ranks[1][i]]), x)


def test_a_world_size_that_does_not_divide_the_batch_is_an_error_before_any_work(two_ranks):
    for rank in (0, 1):
        message = (two_ranks / f"odd_error_rank{rank}.txt").read_text()
        assert "world size 2 does not divide batch_size 7" in message
    assert not (two_ranks / "odd").exists()
    with pytest.raises(ValueError, match="world size 3 does not divide batch_size 128"):
        World(0, 3).per_rank_batch(128)


def test_diffusion_on_two_gloo_ranks_matches_one_process(two_ranks, tmp_path, one_thread):
    train_diffusion(DIFFUSION, _ddpm_data(), tmp_path / "one", device="cpu")
    one, two = _last(tmp_path / "one"), _last(two_ranks / "ddpm")
    assert one["step"] == two["step"] == 6
    _assert_close(one["model"], two["model"], "model")
    _assert_close(one["ema"]["model"], two["ema"]["model"], "ema")
    _assert_close(one["timestep_sampler"], two["timestep_sampler"], "timestep_sampler")


def test_two_rank_resume_gives_the_uninterrupted_two_rank_weights(two_ranks):
    whole, resumed = _last(two_ranks / "ddpm"), _last(two_ranks / "ddpm_resumed")
    for k in ("model", "ema", "optimizer", "timestep_sampler"):
        torch.testing.assert_close(resumed[k], whole[k], atol=0, rtol=0)


def test_gan_with_sync_batchnorm_on_two_gloo_ranks_matches_one_process(two_ranks, tmp_path, one_thread):
    train_gan(GAN, _gan_data(), tmp_path / "one", device="cpu")
    one, sync, per_rank = _last(tmp_path / "one"), _last(two_ranks / "gan_sync"), _last(two_ranks / "gan_per_rank")
    assert one["step"] == sync["step"] == 6
    _assert_close(one["G"], sync["G"], "G")
    _assert_close(one["D"], sync["D"], "D")
    # per-rank BatchNorm normalises each half-batch by its own statistics: a different computation, far
    # outside the tolerance
    floats = [k for k in one["G"] if one["G"][k].is_floating_point()]
    assert max((one["G"][k] - per_rank["G"][k]).abs().max() for k in floats) > 10 * ATOL


def test_evaluation_samples_are_split_over_the_ranks_and_gathered(two_ranks):
    import csv

    for run in ("ddpm_eval", "gan_eval"):
        with open(two_ranks / run / "metrics.csv") as f:
            (row,) = list(csv.DictReader(f))
        assert (int(row["n"]), int(row["distinct"])) == (EVAL_N, EVAL_N), run
