"""Benchmarks of the project's training steps and samplers, on synthetic data of the real shapes.

Each workload calls the project's own code: ``repro.train.gan.gan_epoch`` and
``repro.train.diffusion.ddpm_epoch`` (the step loops the trainers run, Adam, EMA and the loss
bookkeeping included) on a :class:`repro.data.DeviceBatches` of random uint8 images, and
``TrainedDiffusion.sample`` (the trainers' sampler) for ancestral and DDIM sampling. The setup before
the loop is the trainers' own (``setup_training`` of each: seed, model, memory format, optimiser, EMA,
``torch.compile``), without the run folder.

One timed call is one "epoch" of ``steps_per_call`` steps, so that the per-epoch host read of the
losses is paid as in a real run, spread over several steps where the device is fast. Images are
3 x 32 x 32 (CIFAR-10) unless stated.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch

from repro import precision as policy
from repro.data import DeviceBatches
from repro.models.unet import count_parameters
from repro.train import diffusion as dtrain
from repro.train import gan
from repro.train.compute import training_flops_per_example
from repro.train.trained import TrainedDiffusion

from timing import count_flops, summary, time_calls

__all__ = ["CIFAR_SHAPE", "dcgan_training", "mixture_training", "options", "sampling", "unet_training"]

CIFAR_SHAPE = (3, 32, 32)
FLOP_BATCH = 4  # FLOPs of convolutions and matmuls are linear in the batch: count on a small one


def _batches(shape: tuple[int, ...], steps: int, batch_size: int, device: torch.device) -> DeviceBatches:
    """``steps`` batches of random uint8 images, served as the trainers serve data."""
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (steps * batch_size, *shape), dtype=torch.uint8, generator=g)
    return DeviceBatches(data, None, batch_size, device, seed=0)


def _protocol(batch_size: int, steps_per_call: int, warmup: int, repeats: int) -> str:
    return (f"batch {batch_size}; median of {repeats} timed calls of {steps_per_call} step(s) "
            f"after {warmup} warm-up call(s)")


def options(variant: str) -> dict[str, bool]:
    """Trainer options named by a variant such as ``"bf16+channels_last+compile"``."""
    parts = set(variant.split("+"))
    unknown = parts - {"fp32", "bf16", "channels_last", "compile"}
    if unknown:
        raise ValueError(f"unknown variant parts {sorted(unknown)} in {variant!r}")
    return {"bf16": "bf16" in parts, "channels_last": "channels_last" in parts, "compile": "compile" in parts}


def dcgan_training(image_size: int, device: torch.device, variants: list[str], batch_size: int,
                   warmup: int, repeats: int, steps_per_call: int, epoch_images: int = 50_000,
                   epochs: int = 100) -> list[dict]:
    """DCGAN (preset ``dcgan-paper`` at ``image_size``, 3 channels): D step, then G step, both Adam.

    Each variant builds G and D afresh with ``train_gan``'s own setup (memory format, fused Adam on CUDA,
    cuDNN settings, ``torch.compile``). ``also`` projects the training time of ``epochs`` epochs of
    ``epoch_images`` images at the measured rate (the per-epoch records not included).
    """
    base = gan.preset("dcgan-paper", image_size=image_size, channels=3, batch_size=batch_size)
    shape = (3, image_size, image_size)
    rows, flops = [], None
    for variant in variants:
        cfg = dataclasses.replace(base, **options(variant))
        state = gan.setup_training(cfg, device)
        counter = {"epoch": 0, "step": 0}

        def epoch(batches: DeviceBatches, s: gan.GANState):
            def call() -> None:
                with policy.training(device):
                    _, counter["step"] = gan.gan_epoch(s, batches, counter["epoch"], counter["step"])
                counter["epoch"] += 1
                s.iterations.clear()  # per-iteration rows are kept for the record; a benchmark keeps none
            return call

        if flops is None:  # eager model, a small batch: FLOPs are linear in the batch
            eager = dataclasses.replace(state, G_fwd=state.G, D_fwd=state.D, cfg=base)
            flops = count_flops(epoch(_batches(shape, 1, FLOP_BATCH, device), eager)) / FLOP_BATCH
        batches = _batches(shape, steps_per_call, batch_size, device)
        t = summary(time_calls(epoch(batches, state), device, warmup, repeats))
        rate = steps_per_call * batch_size / t["median_s"]
        params = f"G {count_parameters(state.G) / 1e6:.2f}M + D {count_parameters(state.D) / 1e6:.2f}M params"
        projected = epochs * epoch_images / rate
        rows.append({"workload": f"DCGAN training {image_size}x{image_size} ({params}, ngf=ndf={cfg.ngf})",
                     "precision": variant, "value": rate, "unit": "images/s",
                     "also": (f"{t['median_s'] / steps_per_call:.4g} s/step; {epochs} epochs of "
                              f"{epoch_images:,} images: {projected / 60:.3g} min of training steps"),
                     "protocol": _protocol(batch_size, steps_per_call, warmup, repeats),
                     "details": {"flops_per_image": flops, "images_per_s": rate, "steps_per_call": steps_per_call,
                                 "batch_size": batch_size, "projected_s": projected, **t}})
        del state
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def _time_unet(cfg: dtrain.DiffusionTrainConfig, device: torch.device, warmup: int, repeats: int,
               steps_per_call: int, count: bool) -> tuple[dict, int, float | None]:
    """Timings of ``steps_per_call``-step epochs, parameter count and (if ``count``) FLOPs per image."""
    state = dtrain.setup_training(cfg, CIFAR_SHAPE, device)
    counter = {"epoch": 0, "step": 0}

    def epoch(batches: DeviceBatches, s: dtrain.DiffusionState):
        def call() -> None:
            with policy.training(device):
                _, counter["step"] = dtrain.ddpm_epoch(s, batches, counter["epoch"], counter["step"])
            counter["epoch"] += 1
        return call

    flops = None
    if count:  # eager model, a small batch: FLOPs are linear in the batch
        eager = dataclasses.replace(state, forward=state.model)
        flops = count_flops(epoch(_batches(CIFAR_SHAPE, 1, FLOP_BATCH, device), eager)) / FLOP_BATCH
    batches = _batches(CIFAR_SHAPE, steps_per_call, cfg.batch_size, device)
    return summary(time_calls(epoch(batches, state), device, warmup, repeats)), count_parameters(state.model), flops


def unet_training(preset: str, device: torch.device, variants: list[str], batch_size: int, warmup: int,
                  repeats: int, steps_per_call: int) -> list[dict]:
    """DDPM training (Ho et al. 2020 defaults: L_simple, T = 1000, Adam, grad clip, EMA) of a U-Net preset.

    ``variants`` join options of :class:`DiffusionTrainConfig` with ``+`` (see :func:`options`):
    ``"fp32"``, ``"bf16"`` (autocast, on CUDA and on CPUs) and ``"compile"`` act anywhere, ``"channels_last"`` on CUDA.
    """
    rows, flops = [], None
    for variant in variants:
        cfg = dtrain.DiffusionTrainConfig(model=preset, batch_size=batch_size, **options(variant))
        t, params, counted = _time_unet(cfg, device, warmup, repeats, steps_per_call, count=flops is None)
        flops = flops if counted is None else counted
        rate = steps_per_call * batch_size / t["median_s"]
        rows.append({"workload": f"DDPM U-Net training, {preset} ({params / 1e6:.2f}M params)",
                     "precision": variant, "value": rate, "unit": "images/s",
                     "also": f"{t['median_s'] / steps_per_call:.4g} s/step",
                     "protocol": _protocol(batch_size, steps_per_call, warmup, repeats),
                     "details": {"flops_per_image": flops, "images_per_s": rate, "steps_per_call": steps_per_call,
                                 "batch_size": batch_size, **t}})
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the next variant builds its own model
    return rows


def mixture_training(device: torch.device, warmup: int, repeats: int, steps_per_call: int,
                     epoch_points: int = 100_000, epochs: int = 200) -> list[dict]:
    """The 2D study's two trainers (``toy_modes``: the GAN of preset ``mixture-pacgan``, the DDPM of
    ``mixture-mlp``, each at its configured batch) on random 2-d points, one after the other on the same
    machine and threads, so that their per-example costs compare. ``also`` projects ``epochs`` epochs of
    ``epoch_points`` points (the study's length) at the measured rate, the per-epoch evaluation not included.
    """
    from repro.report import toy_modes

    shape = (2,)
    g = torch.Generator().manual_seed(0)
    rows = []
    for model, cfg in (("GAN (mixture-pacgan)", toy_modes.gan_config(epochs, 0, 1e-4)),
                       ("DDPM (mixture-mlp)", toy_modes.ddpm_config(epochs, 0, 1e-3))):
        is_gan = model.startswith("GAN")
        state = gan.setup_training(cfg, device) if is_gan else dtrain.setup_training(cfg, shape, device)
        run_epoch = gan.gan_epoch if is_gan else dtrain.ddpm_epoch
        counter = {"epoch": 0, "step": 0}
        points = torch.randn(steps_per_call * cfg.batch_size, *shape, generator=g)
        batches = DeviceBatches(points, None, cfg.batch_size, device, seed=0)

        def call(s=state, run_epoch=run_epoch, is_gan=is_gan, batches=batches) -> None:
            with policy.training(device):
                _, counter["step"] = run_epoch(s, batches, counter["epoch"], counter["step"])
            counter["epoch"] += 1
            if is_gan:
                s.iterations.clear()  # per-iteration rows are kept for the record; a benchmark keeps none

        t = summary(time_calls(call, device, warmup, repeats))
        rate = steps_per_call * cfg.batch_size / t["median_s"]
        flops = training_flops_per_example("gan" if is_gan else "diffusion", cfg, shape)
        projected = epochs * epoch_points / rate
        rows.append({"workload": f"2D mixture training, {model}", "precision": "fp32", "value": rate,
                     "unit": "points/s",
                     "also": (f"{t['median_s'] / steps_per_call * 1e3:.4g} ms/step of batch {cfg.batch_size}; "
                              f"{epochs} epochs of {epoch_points:,} points: {projected / 60:.3g} min of training "
                              "steps"),
                     "protocol": _protocol(cfg.batch_size, steps_per_call, warmup, repeats),
                     "details": {"flops_per_image": flops, "images_per_s": rate, "steps_per_call": steps_per_call,
                                 "batch_size": cfg.batch_size, "projected_s": projected, **t}})
    return rows


def sampling(preset: str, device: torch.device, precisions: list[str], n: int, steps_list: list[int],
             samplers: list[str], repeats: int) -> list[dict]:
    """Images/s of ``TrainedDiffusion.sample`` (one batch of ``n``) per sampler and number of steps.

    The network is an untrained U-Net of ``preset``: the cost of a step does not depend on the weights.
    Ancestral sampling with K < T steps runs on the respaced process (iDDPM sec. 4), as the trainers'
    sampler does. Seconds per image per step should be flat in K: the cost is K network evaluations.
    """
    cfg = dtrain.DiffusionTrainConfig(model=preset)
    torch.manual_seed(cfg.seed)
    model = dtrain.build_denoiser(cfg, CIFAR_SHAPE).to(device)
    name = f"{preset} ({count_parameters(model) / 1e6:.2f}M params)"
    model.eval().requires_grad_(False)
    diffusion = dtrain.build_diffusion(cfg)
    x = torch.randn(FLOP_BATCH, *CIFAR_SHAPE, device=device)
    t = torch.randint(0, diffusion.num_timesteps, (FLOP_BATCH,), device=device)
    with torch.no_grad():
        flops_step = count_flops(lambda: model(x, t)) / FLOP_BATCH

    trained = TrainedDiffusion(model, diffusion, CIFAR_SHAPE)

    def drawer(sampler: str, steps: int, gen: torch.Generator, bf16: bool):
        trained.process(steps)  # respacing is set-up, not sampling: done before the clock starts

        def draw() -> torch.Tensor:
            with policy.autocast(device, True) if bf16 else contextlib.nullcontext():
                return trained.sample(n, sampler=sampler, steps=steps, batch_size=n, generator=gen)
        return draw

    rows = []
    for precision in precisions:
        bf16 = precision == "bf16"
        gen = torch.Generator(device).manual_seed(0)
        for sampler in samplers:  # warm-up: a 2-step run of each sampler at the timed batch size
            time_calls(drawer(sampler, 2, gen, bf16), device, 1, 0)
        for sampler in samplers:
            for steps in steps_list:
                draw = drawer(sampler, steps, gen, bf16)
                times = summary(time_calls(draw, device, 0, repeats))
                rate = n / times["median_s"]
                per_step = times["median_s"] / (n * steps)
                rows.append({"workload": f"sampling, {sampler} {steps} steps, {name}", "precision": precision,
                             "value": rate, "unit": "images/s",
                             "also": f"{per_step * 1e3:.4g} ms per image per step",
                             "protocol": f"batch {n}; median of {repeats} timed runs after a 2-step warm-up",
                             "details": {"s_per_image_per_step": per_step, "steps": steps, "sampler": sampler,
                                         "flops_per_image": flops_step * steps, "images_per_s": rate,
                                         "batch_size": n, **times}})
    return rows
