"""Train the small per-data-set classifier and write its weights and record to ``repro/weights``.

    python -m repro.metrics.classifier --dataset fashion-mnist
    python -m repro.metrics.classifier --dataset cifar10-jpeg

Adam with a one-cycle learning rate, a few epochs on the training split (horizontal flips for
CIFAR-10), then accuracy on the test split. The JSON record beside the weights holds the test
accuracy, the exact command, the train/test data checksums, the wall time, the environment and the
weights' sha256 (checked on every load).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ...data import DeviceBatches, load_dataset
from ...io import atomic_torch_save, atomic_write_json, sha256_file
from ...records import environment_info, git_info, utc_now
from .network import CLASSIFIER_SPECS, SmallCNN, classifier_input, weights_dir

__all__ = ["train_classifier", "main"]

DEFAULT_EPOCHS = {"fashion-mnist": 5, "cifar10-jpeg": 4}


@torch.no_grad()
def accuracy(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on uint8 ``images``."""
    model.eval()
    correct = 0
    for x, y in zip(images.split(batch_size), labels.split(batch_size)):
        correct += int((model(classifier_input(x, model.spec)).argmax(1) == y).sum())
    return correct / len(labels)


def train_classifier(dataset: str, epochs: int, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
                     data_root: str | None = None, out: Path | None = None, command: str = "") -> dict:
    """Train, test and save the classifier of ``dataset``; return its record."""
    spec = CLASSIFIER_SPECS[dataset]
    train = load_dataset(dataset, "train", root=data_root)
    test = load_dataset(dataset, "test", root=data_root)
    torch.manual_seed(seed)
    model = SmallCNN(spec)
    batches = DeviceBatches(train.images, train.labels, batch_size, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(batches))
    flip = dataset.startswith("cifar10")
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total, n = 0.0, 0
        for x, y in batches.epoch(epoch):
            if flip:
                mask = torch.rand(x.shape[0]) < 0.5
                x = torch.where(mask[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(y), n + len(y)
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / n:.4f}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    test_acc = accuracy(model, test.images, test.labels)
    print(f"test accuracy {test_acc:.4f} ({len(test)} images), training wall time {wall:.0f} s", flush=True)

    out = Path(out) if out is not None else weights_dir()
    pt = out / f"classifier-{dataset}.pt"
    atomic_torch_save({k: v.detach().clone() for k, v in model.state_dict().items()}, pt)
    record = {
        "dataset": dataset,
        "label": train.label,
        "spec": asdict(spec),
        "parameters": sum(p.numel() for p in model.parameters()),
        "test_accuracy": test_acc,
        "test_n": len(test),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "optimizer": "Adam, one-cycle learning rate" + (", horizontal flips" if flip else ""),
        "command": command,
        "train_data": train.info(),
        "test_data": test.info(),
        "wall_time_s": round(wall, 1),
        "finished": utc_now(),
        "git": git_info(),
        **environment_info("cpu"),
        "weights_file": pt.name,
        "weights_sha256": sha256_file(pt),
    }
    js = out / f"classifier-{dataset}.json"
    atomic_write_json(js, record)
    return record


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m repro.metrics.classifier", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=sorted(CLASSIFIER_SPECS))
    p.add_argument("--epochs", type=int, default=None, help="default: 5 (Fashion-MNIST), 4 (CIFAR-10 JPEG)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", type=Path, default=None, help="default: repro/weights")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m repro.metrics.classifier", *argv])
    train_classifier(args.dataset, args.epochs or DEFAULT_EPOCHS[args.dataset], args.batch_size, args.lr,
                     args.seed, args.data_root, args.out, command)


if __name__ == "__main__":
    main()
