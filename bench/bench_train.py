"""Benchmarks of the project's training steps and samplers, on synthetic data of the real shapes.

Each workload calls the project's own code: ``repro.train.gan._train_epoch`` and
``repro.train.diffusion._train_epoch`` (the step loops the trainers run, Adam, EMA and the loss
bookkeeping included) on a :class:`repro.data.DeviceBatches` of random uint8 images, and
``TrainedDiffusion.sample`` (the trainers' sampler) for ancestral and DDIM sampling. The setup before
the loop repeats what ``train_gan`` and ``train_diffusion`` do (seed, model, optimiser, EMA, memory
format), without the run folder.

One timed call is one "epoch" of ``steps_per_call`` steps, so that the per-epoch host read of the
losses is paid as in a real run, spread over several steps where the device is fast. Images are
3 x 32 x 32 (CIFAR-10) unless stated.
"""

from __future__ import annotations

import dataclasses
import tempfile
from functools import partial
from pathlib import Path

import torch

from repro.data import DeviceBatches
from repro.diffusion import make_timestep_sampler
from repro.models.unet import count_parameters
from repro.train import diffusion as dtrain
from repro.train import gan
from repro.train.ema import EMA

from timing import count_flops, summary, time_calls

__all__ = ["CIFAR_SHAPE", "dcgan_training", "sampling", "unet_training"]

CIFAR_SHAPE = (3, 32, 32)
FLOP_BATCH = 4  # FLOPs of convolutions and matmuls are linear in the batch: count on a small one
# named in the trainers' non-finite-loss error only; never written
_NO_CHECKPOINT = Path(tempfile.gettempdir()) / "repro-bench-no-checkpoint" / "last.pt"


def _batches(shape: tuple[int, ...], steps: int, batch_size: int, device: torch.device) -> DeviceBatches:
    """``steps`` batches of random uint8 images, served as the trainers serve data."""
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (steps * batch_size, *shape), dtype=torch.uint8, generator=g)
    return DeviceBatches(data, None, batch_size, device, seed=0)


def _protocol(batch_size: int, steps_per_call: int, warmup: int, repeats: int) -> str:
    return (f"batch {batch_size}; median of {repeats} timed calls of {steps_per_call} step(s) "
            f"after {warmup} warm-up call(s)")


def dcgan_training(image_size: int, device: torch.device, precisions: list[str], batch_size: int,
                   warmup: int, repeats: int, steps_per_call: int) -> list[dict]:
    """DCGAN (preset ``dcgan-paper`` at ``image_size``, 3 channels): D step, then G step, both Adam."""
    cfg = gan.preset("dcgan-paper", image_size=image_size, channels=3, batch_size=batch_size)
    torch.manual_seed(cfg.seed)
    G, D = (m.to(device) for m in gan.build_gan(cfg))
    optG = torch.optim.Adam(G.parameters(), lr=cfg.lr_G, betas=(cfg.beta1, cfg.beta2))
    optD = torch.optim.Adam(D.parameters(), lr=cfg.lr_D, betas=(cfg.beta1, cfg.beta2))
    z_gen = torch.Generator(device).manual_seed(cfg.seed)
    counter = {"epoch": 0, "step": 0}

    def epoch(batches: DeviceBatches, c: gan.GANTrainConfig):
        def call() -> None:
            gan._train_epoch(G, D, optG, optD, batches, counter["epoch"], counter["step"], c, z_gen,
                             _NO_CHECKPOINT)
            counter["epoch"] += 1
            counter["step"] += len(batches)
        return call

    shape = (3, image_size, image_size)
    flops = count_flops(epoch(_batches(shape, 1, FLOP_BATCH, device), cfg)) / FLOP_BATCH
    batches = _batches(shape, steps_per_call, batch_size, device)
    params = f"G {count_parameters(G) / 1e6:.2f}M + D {count_parameters(D) / 1e6:.2f}M params"
    rows = []
    for precision in precisions:
        c = dataclasses.replace(cfg, bf16=precision == "bf16")
        t = summary(time_calls(epoch(batches, c), device, warmup, repeats))
        rate = steps_per_call * batch_size / t["median_s"]
        rows.append({"workload": f"DCGAN training {image_size}x{image_size} ({params}, ngf=ndf={cfg.ngf})",
                     "precision": precision, "value": rate, "unit": "images/s",
                     "also": f"{t['median_s'] / steps_per_call:.4g} s/step",
                     "protocol": _protocol(batch_size, steps_per_call, warmup, repeats),
                     "details": {"flops_per_image": flops, "images_per_s": rate, "steps_per_call": steps_per_call,
                                 "batch_size": batch_size, **t}})
    return rows


def _diffusion_parts(cfg: dtrain.DiffusionTrainConfig, device: torch.device):
    """Process, model, EMA, optimiser and timestep sampler, as ``train_diffusion`` builds them."""
    torch.manual_seed(cfg.seed)
    diffusion = dtrain.build_diffusion(cfg)
    model = dtrain.build_denoiser(cfg, CIFAR_SHAPE).to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    ema = EMA(model, cfg.ema_decay)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.adam_betas))
    t_sampler = make_timestep_sampler(cfg.timestep_sampler, diffusion.num_timesteps, device)
    return diffusion, model, ema, opt, t_sampler


def _time_unet(cfg: dtrain.DiffusionTrainConfig, device: torch.device, warmup: int, repeats: int,
               steps_per_call: int, count: bool) -> tuple[dict, int, float | None]:
    """Timings of ``steps_per_call``-step epochs, parameter count and (if ``count``) FLOPs per image."""
    diffusion, model, ema, opt, t_sampler = _diffusion_parts(cfg, device)
    counter = {"epoch": 0, "step": 0}

    def epoch(batches: DeviceBatches):
        def call() -> None:
            _, counter["step"] = dtrain._train_epoch(cfg, diffusion, model, ema, opt, t_sampler, batches,
                                                     counter["epoch"], counter["step"], device, _NO_CHECKPOINT)
            counter["epoch"] += 1
        return call

    flops = count_flops(epoch(_batches(CIFAR_SHAPE, 1, FLOP_BATCH, device))) / FLOP_BATCH if count else None
    batches = _batches(CIFAR_SHAPE, steps_per_call, cfg.batch_size, device)
    return summary(time_calls(epoch(batches), device, warmup, repeats)), count_parameters(model), flops


def unet_training(preset: str, device: torch.device, variants: list[str], batch_size: int, warmup: int,
                  repeats: int, steps_per_call: int) -> list[dict]:
    """DDPM training (Ho et al. 2020 defaults: L_simple, T = 1000, Adam, grad clip, EMA) of a U-Net preset.

    ``variants``: ``"fp32"``, ``"bf16"`` (the config's autocast) and ``"bf16+channels_last"``; the last
    two are CUDA-only options of :class:`DiffusionTrainConfig`.
    """
    rows, flops = [], None
    for variant in variants:
        cfg = dtrain.DiffusionTrainConfig(model=preset, batch_size=batch_size, bf16=variant.startswith("bf16"),
                                          channels_last=variant.endswith("channels_last"))
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

    def trained(sampler: str, steps: int) -> dtrain.TrainedDiffusion:
        run = dtrain.TrainedDiffusion(model, diffusion, dataclasses.replace(cfg, sampler=sampler, sampler_steps=steps),
                                      CIFAR_SHAPE)
        _ = run.process  # respacing is set-up, not sampling: done before the clock starts
        return run

    rows = []
    for precision in precisions:
        bf16 = precision == "bf16"
        gen = torch.Generator(device).manual_seed(0)
        for sampler in samplers:  # warm-up: a 2-step run of each sampler at the timed batch size
            time_calls(partial(trained(sampler, 2).sample, n, gen, batch_size=n, autocast=bf16), device, 1, 0)
        for sampler in samplers:
            for steps in steps_list:
                draw = partial(trained(sampler, steps).sample, n, gen, batch_size=n, autocast=bf16)
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
