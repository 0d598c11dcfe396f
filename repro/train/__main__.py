"""Train from the command line, in one process or on many under torchrun.

    python -m repro.train ddpm --preset ho-cifar10 --out runs/ddpm
    torchrun --nproc_per_node=8 -m repro.train ddpm --preset ho-cifar10 --out runs/ddpm
    torchrun --nproc_per_node=2 -m repro.train gan --preset fashion-mnist-32-cpu --dataset fashion-mnist \\
        --out runs/gan --set sync_bn=true

``--batch-size`` (or the preset's) is the global batch, split over the ranks; see
:mod:`repro.train.distributed` for what each rank does. ``--set key=value`` replaces any config field
(the value read as JSON, else as a string). ``--config run.json`` takes every field from a JSON file
instead of a preset (what the notebooks' ``gpus`` parameter passes). ``--track-samples N`` scores N
samples every ``track_every`` epochs with the classifier tracker of the image data set (the samples
drawn across the ranks; ``fd_classifier`` and the other columns of :class:`repro.metrics.ClassifierTracker`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
from torch.distributed.elastic.multiprocessing.errors import record

from ..data import load_dataset
from . import diffusion, gan
from .distributed import init_from_env
from .loop import as_config

TRAINERS = {"gan": gan, "ddpm": diffusion}
CONFIGS = {"gan": gan.GANTrainConfig, "ddpm": diffusion.DiffusionTrainConfig}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m repro.train", description=__doc__.split("\n")[0])
    p.add_argument("trainer", choices=sorted(TRAINERS))
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset of the trainer's PRESETS")
    source.add_argument("--config", help="a JSON file of config fields (instead of a preset)")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="the global batch (all ranks together)")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--subset", type=int, help="train on this many items of the data set")
    p.add_argument("--image-size", type=int, help="default: the GAN's image_size, the data's own for ddpm")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="replace a config field")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--overrides", default="", metavar="KEY[,KEY]",
                   help="settings a --resume may change (given with --set), recorded in the manifest")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--track-samples", type=int, default=0,
                   help="classifier-tracker samples per tracked epoch (image data; 0: none)")
    return p.parse_args(argv)


@record  # a failing rank's traceback reaches torchrun's summary, which names the rank
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    module = TRAINERS[args.trainer]
    overrides = dict(kv.split("=", 1) for kv in args.set)
    overrides = {k: _value(v) for k, v in overrides.items()}
    for key in ("epochs", "batch_size"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.config:
        with open(args.config) as f:
            cfg = as_config(CONFIGS[args.trainer], {**json.load(f), **overrides})
    else:
        cfg = module.preset(args.preset, **overrides)
    world, device = init_from_env(args.device)
    world.per_rank_batch(cfg.batch_size)  # before the data are read
    image_size = args.image_size or (cfg.image_size if args.trainer == "gan" and cfg.arch == "dcgan" else None)
    # rank 0 may download the data; the others read what it left
    dataset = None
    if world.main:
        dataset = load_dataset(args.dataset, image_size=image_size, subset=args.subset, seed=cfg.seed)
    world.share(None)
    if dataset is None:
        dataset = load_dataset(args.dataset, image_size=image_size, subset=args.subset, seed=cfg.seed, download=False)
    train = gan.train_gan if args.trainer == "gan" else diffusion.train_diffusion
    tracker = None
    if args.track_samples > 0:  # every rank samples its share; rank 0 records
        from ..metrics import ClassifierTracker

        tracker = ClassifierTracker(args.dataset, n_samples=args.track_samples, device=device)
    try:
        run = train(cfg, dataset, args.out, resume=args.resume, evaluate=tracker, device=device,
                    overrides=tuple(k for k in args.overrides.split(",") if k))
    finally:
        if world.size > 1:
            torch.distributed.destroy_process_group()
    if run is not None:
        print(f"{run.path}: {run.manifest.get('status')}, {len(run.rows)} epochs recorded")


if __name__ == "__main__":
    main()
