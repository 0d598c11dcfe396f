"""Training compute: FLOPs per training example of each trainer's step, counted, not estimated.

:func:`training_flops_per_example` runs one step of the trainer's own epoch function (``gan_epoch``:
G forward, D on a real and a generated batch, both backward passes; ``ddpm_epoch``: the denoiser's
forward and backward under the configured loss) on a fresh copy of its setup and a batch of random
data of the run's shape, under torch's FlopCounterMode, with every global RNG left as it was. The
count covers matrix multiplications, convolutions and attention (2 FLOPs per multiply-add; the CPU's
fused attention kernel, which torch leaves uncounted, gets torch's attention formula), forward and
backward; elementwise work, normalisation and the optimiser are not counted, for either model alike.
A run's training compute after ``step`` steps is then ``step * batch_size * flops_per_example``
(:func:`run_training_flops`, with :func:`record_flops_per_example` counted from the run's own config),
and its training time the sum of its epochs' ``epoch_time_s`` (:func:`training_time_s`: evaluation and
checkpointing are not in it). Each epoch also records ``epoch_cpu_s``, the CPU seconds its process used
(:func:`training_cpu_s`): on a machine shared with other work, or paused, the wall time also counts the
waits for a core and the pause, the CPU time does not (contention for caches and memory still slows
it a little), so a run with one thread on a CPU is timed closer to what its epochs cost it alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from ..data import DeviceBatches
from .loop import isolated_rng

__all__ = ["count_flops", "training_flops_per_example", "record_flops_per_example", "run_training_flops",
           "training_time_s", "training_cpu_s"]

BATCH = 4  # convolutions and matmuls are linear in the batch: count on a small one


def _cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                            **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# torch counts the GPU attention kernels; the CPU's fused kernel gets the same formula here
_ATTENTION_CPU = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward,
}


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` as torch's FlopCounterMode counts them (matmuls, convolutions and
    attention, forward and backward; 2 per multiply-add), the CPU's fused attention kernel included."""
    counter = FlopCounterMode(display=False, custom_mapping=_ATTENTION_CPU)
    with counter:
        fn()
    return int(counter.get_total_flops())


def training_flops_per_example(kind: str, config, data_shape: tuple[int, ...], batch: int = BATCH) -> float:
    """FLOPs of one training step per example for a ``"gan"`` or ``"diffusion"`` config and data of
    shape ``data_shape`` (C, H, W), counted on the CPU with ``batch`` random uint8 images."""
    from . import diffusion, gan

    if kind not in ("gan", "diffusion"):
        raise ValueError(f"kind must be 'gan' or 'diffusion', got {kind!r}")
    cfg = dataclasses.replace(config, compile=False, batch_size=batch, check_every=1)
    cpu = torch.device("cpu")
    images = torch.randint(0, 256, (batch, *data_shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    batches = DeviceBatches(images, None, batch, cpu, seed=0)
    with isolated_rng():
        if kind == "gan":
            state = gan.setup_training(cfg, cpu)
            flops = count_flops(lambda: gan.gan_epoch(state, batches, 0, 0))
        else:
            state = diffusion.setup_training(cfg, data_shape, cpu)
            flops = count_flops(lambda: diffusion.ddpm_epoch(state, batches, 0, 0))
    return flops / batch


def record_flops_per_example(record) -> float:
    """:func:`training_flops_per_example` of a run, from the config in its manifest (its ``params``) and
    its data shape (the manifest's ``data_shape``; a GAN's is its generator's output)."""
    from . import diffusion, gan

    kind = record.manifest.get("kind")
    if kind == gan.KIND:
        cfg = gan.GANTrainConfig(**record.params)
        shape = (2,) if cfg.arch == "mlp" else (cfg.channels, cfg.image_size, cfg.image_size)
        return training_flops_per_example("gan", cfg, shape)
    if kind == diffusion.KIND:
        cfg = diffusion.DiffusionTrainConfig(**record.params)
        return training_flops_per_example("diffusion", cfg, tuple(record.manifest["data_shape"]))
    raise ValueError(f"{record.path} holds a {kind!r} run; training FLOPs are counted for GAN and diffusion runs")


def run_training_flops(record, flops_per_example: float) -> float:
    """Training FLOPs a run spent: its last step x its batch size x ``flops_per_example``."""
    return float(record.rows[-1]["step"]) * float(record.params["batch_size"]) * flops_per_example


def training_time_s(rows) -> float:
    """Training wall time of a run's metrics ``rows``: the sum of their ``epoch_time_s``."""
    return sum(float(r.get("epoch_time_s") or 0.0) for r in rows)


def training_cpu_s(rows) -> float | None:
    """CPU seconds of a run's training epochs: the sum of their ``epoch_cpu_s`` (``None`` when an epoch
    lacks it, as those recorded before it was measured do)."""
    if not rows or any(r.get("epoch_cpu_s") is None for r in rows):
        return None
    return sum(float(r["epoch_cpu_s"]) for r in rows)
