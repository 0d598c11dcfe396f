"""Data-parallel overhead: the DDPM training step on 1 process against K processes at the same global batch.

Each configuration runs in freshly spawned processes (``torch.multiprocessing``; a gloo group on the
CPU, NCCL with one GPU per rank on CUDA) that call the trainer's own ``ddpm_epoch`` on a
:class:`repro.data.DeviceBatches` of random uint8 images, sharded by rank as ``torchrun -m repro.train``
shards them, inside DistributedDataParallel. Every rank times the same calls between barriers; rank 0
reports. The overhead per step is the K-process step time minus 1/K of the 1-process one (what perfect
scaling would give: each rank computes 1/K of the batch), i.e. the gradient all-reduce, the rank
collectives of the loss bookkeeping and, on a CPU, the cores the ranks share.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from repro.data import DeviceBatches
from repro.train import diffusion as dtrain
from repro.train.distributed import current_world

from timing import summary, time_calls

__all__ = ["ddp_rows"]

SHAPE = (3, 32, 32)


def _worker(rank: int, size: int, init: str, threads: int, preset: str, batch: int, steps: int, warmup: int,
            repeats: int, device_type: str, result: str) -> None:
    torch.set_num_threads(threads)
    device = torch.device("cuda", rank) if device_type == "cuda" else torch.device("cpu")
    if size > 1:
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", init_method=f"file://{init}",
                                rank=rank, world_size=size)
    try:
        world = current_world()
        cfg = dtrain.DiffusionTrainConfig(model=preset, batch_size=batch, warmup_steps=0)
        state = dtrain.setup_training(cfg, SHAPE, device, world)
        g = torch.Generator().manual_seed(0)
        data = torch.randint(0, 256, (steps * batch, *SHAPE), dtype=torch.uint8, generator=g)
        batches = DeviceBatches(data, None, batch, device, seed=0, rank=world.rank, world_size=world.size)
        counter = {"epoch": 0, "step": 0}

        def call() -> None:
            if size > 1:
                dist.barrier()
            _, counter["step"] = dtrain.ddpm_epoch(state, batches, counter["epoch"], counter["step"])
            counter["epoch"] += 1
            if size > 1:
                dist.barrier()

        times = time_calls(call, device, warmup, repeats)
        if rank == 0:
            torch.save(summary(times), result)
    finally:
        if size > 1:
            dist.destroy_process_group()


def _measure(size: int, threads: int, preset: str, batch: int, steps: int, warmup: int, repeats: int,
             device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = str(Path(tmp) / "result.pt")
        mp.spawn(_worker, args=(size, str(Path(tmp) / "init"), threads, preset, batch, steps, warmup, repeats,
                                device.type, result), nprocs=size, join=True)
        return torch.load(result, weights_only=True)


def ddp_rows(device: torch.device, preset: str, batch: int, steps: int, warmup: int, repeats: int,
             processes: int = 2) -> list[dict]:
    """Rows: 1 process (1 thread and, on a CPU, ``processes`` threads) and ``processes`` ranks, with the
    per-step overhead of the ranks against perfect scaling of the 1-process, 1-thread step."""
    protocol = (f"global batch {batch}, {steps} steps per timed call between barriers, median of {repeats} "
                f"calls after {warmup} warm-up; fresh spawned processes per configuration")
    configs = [(1, 1), (processes, 1)] + ([(1, processes)] if device.type == "cpu" else [])
    rows, base = [], None
    for size, threads in configs:
        t = _measure(size, threads, preset, batch, steps, warmup, repeats, device)
        per_step = t["median_s"] / steps
        what = (f"{size} process{'es' if size > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
                if device.type == "cpu" else f"{size} GPU{'s' if size > 1 else ''}")
        also = f"{batch / per_step:.4g} images/s"
        if size == 1 and threads == 1:
            base = per_step
        elif size > 1 and base is not None:
            overhead = per_step - base / size
            also += (f"; overhead {overhead * 1e3:.3g} ms/step over perfect scaling ({base / size * 1e3:.3g} ms); "
                     f"scaling efficiency {base / (size * per_step):.0%}")
        rows.append({"workload": f"DDP training step, {preset}, {what}", "precision": "fp32", "value": per_step * 1e3,
                     "unit": "ms/step", "also": also, "protocol": protocol,
                     "details": {"processes": size, "threads": threads, "batch_size": batch, **t}})
    return rows
