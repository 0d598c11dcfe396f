"""Train from the command line, in one process or on many under torchrun.

    python -m repro.train ddpm --preset ho-cifar10 --out runs/ddpm
    torchrun --nproc_per_node=8 -m repro.train ddpm --preset ho-cifar10 --out runs/ddpm
    torchrun --nproc_per_node=2 -m repro.train gan --preset fashion-mnist-32-cpu --dataset fashion-mnist \\
        --out runs/gan --set sync_bn=true

``--batch-size`` (or the preset's) is the global batch, split over the ranks; see
:mod:`repro.train.distributed` for what each rank does. ``--set key=value`` replaces any config field
(the value read as JSON, else as a string).
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

TRAINERS = {"gan": gan, "ddpm": diffusion}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m repro.train", description=__doc__.split("\n")[0])
    p.add_argument("trainer", choices=sorted(TRAINERS))
    p.add_argument("--preset", required=True, help="a preset of the trainer's PRESETS")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="the global batch (all ranks together)")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--subset", type=int, help="train on this many items of the data set")
    p.add_argument("--image-size", type=int, help="default: the GAN's image_size, the data's own for ddpm")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="replace a config field")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
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
    try:
        run = train(cfg, dataset, args.out, resume=args.resume, device=device)
    finally:
        if world.size > 1:
            torch.distributed.destroy_process_group()
    if run is not None:
        print(f"{run.path}: {run.manifest.get('status')}, {len(run.rows)} epochs recorded")


if __name__ == "__main__":
    main()
