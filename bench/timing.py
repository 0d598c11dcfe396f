"""Timing, FLOP counting and the matmul reference rate shared by the benchmarks.

Every timed call is bracketed by a device synchronisation, so that on CUDA the clock stops when the
kernels have finished, not when they were queued. Warm-up calls (allocator, cuDNN algorithm choice,
lazy initialisation) run first and are never timed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from repro.records import cpu_isa, cpu_model
from repro.train.compute import count_flops

__all__ = ["count_flops", "hardware_name", "matmul_rate", "summary", "sync", "time_calls"]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones (time.perf_counter)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict[str, float | list[float]]:
    """Median, min and max of the timed calls, with the raw values for the JSON record."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "times_s": times}


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, warmup: int = 2, repeats: int = 5,
                inner: int = 10) -> dict[str, float]:
    """Measured FLOP/s of an n x n x n matmul in ``dtype``: the median of ``repeats`` timings of ``inner``
    back-to-back products. On CUDA in bf16 this is the reference rate of the MFU figures."""
    g = torch.Generator(device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    out = torch.empty(n, n, device=device, dtype=dtype)

    def run() -> None:
        for _ in range(inner):
            torch.matmul(a, b, out=out)

    times = time_calls(run, device, warmup, repeats)
    flops = 2.0 * n ** 3 * inner
    return {"flop_per_s": flops / statistics.median(times), "best_flop_per_s": flops / min(times), "n": n,
            "inner": inner, **summary(times)}


def hardware_name(device: torch.device) -> str:
    """GPU name, or the CPU model and its instruction set with the number of torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"{cpu_model()} ({cpu_isa()}), {n} thread{'' if n == 1 else 's'}"