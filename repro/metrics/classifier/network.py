"""A small CNN per data set, the offline stand-in for the Inception network's class head.

The TF-2015 Inception's 1008-class logits (needed for the Inception Score) only come with the online
weights. Offline, a classifier trained on the data set itself gives class probabilities for a
classifier score and class coverage, and a low-dimensional feature space for a cheap Frechet
distance during training. Its numbers are ours and are never reported as IS or FID.

Network: three stages of (conv 3x3 - BN - ReLU) x 2, max pooling between stages, global average
pooling to a ``4 * width`` feature vector, and one linear layer to the class logits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data import to_float, to_uint8
from ...data.images import resize_uint8
from ...io import sha256_file
from ..checks import check_images

__all__ = ["ClassifierSpec", "SmallCNN", "LoadedClassifier", "load_classifier", "classifier_input",
           "weights_dir", "CLASSIFIER_SPECS", "ClassifierWeightsError"]


@dataclass(frozen=True)
class ClassifierSpec:
    """What the network is built from; stored with its weights."""

    in_channels: int
    image_size: int
    width: int
    num_classes: int = 10


CLASSIFIER_SPECS = {
    "fashion-mnist": ClassifierSpec(in_channels=1, image_size=28, width=16),
    "cifar10-jpeg": ClassifierSpec(in_channels=3, image_size=32, width=32),
}


class ClassifierWeightsError(FileNotFoundError):
    """The shipped classifier weights are missing or do not match their record."""


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    layers = []
    for c in (c_in, c_out):
        layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Three conv stages (``width``, ``2 width``, ``4 width`` channels) and a linear class head."""

    def __init__(self, spec: ClassifierSpec) -> None:
        super().__init__()
        w = spec.width
        self.spec = spec
        self.stages = nn.ModuleList([_stage(spec.in_channels, w), _stage(w, 2 * w), _stage(2 * w, 4 * w)])
        self.head = nn.Linear(4 * w, spec.num_classes)

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N x 4 width): the space of the classifier Frechet distance."""
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else F.max_pool2d(x, 2))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def classifier_input(images: torch.Tensor, spec: ClassifierSpec) -> torch.Tensor:
    """Images (uint8, or float in [-1, 1]) -> float [-1, 1] at the classifier's size, on their device.

    Float images are quantised to uint8 first, so generated and real images are seen alike. A
    Fashion-MNIST image served at 32 x 32 (padded by 2 pixels, see :mod:`repro.data.images`) is cropped
    back to 28 x 28; any other size mismatch is a bilinear (antialiased) resize.
    """
    if images.ndim != 4 or images.shape[1] != spec.in_channels:
        raise ValueError(f"expected N x {spec.in_channels} x H x W images, got {tuple(images.shape)}")
    x = images if images.dtype == torch.uint8 else to_uint8(images)
    size = x.shape[-1]
    if size == spec.image_size + 4 and spec.image_size == 28:
        x = x[..., 2:-2, 2:-2]
    elif size != spec.image_size:
        x = resize_uint8(x.cpu(), spec.image_size).to(images.device)
    return to_float(x)


def weights_dir() -> Path:
    """The folder of shipped weights, ``repro/weights`` (or ``$REPRO_WEIGHTS``)."""
    if os.environ.get("REPRO_WEIGHTS"):
        return Path(os.environ["REPRO_WEIGHTS"]).expanduser()
    return Path(__file__).resolve().parents[2] / "weights"


@dataclass
class LoadedClassifier:
    """A classifier ready for evaluation, with the record of how it was trained."""

    dataset: str
    model: SmallCNN
    record: dict

    @property
    def name(self) -> str:
        return f"classifier-{self.dataset}-{self.record['weights_sha256'][:8]}"

    @property
    def key(self) -> str:
        return self.name

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"features": N x D float32, "probs": N x K float64}`` of ``images`` (CPU tensors)."""
        probs, feats = self.probs_and_features(images)
        return {"features": feats, "probs": probs}

    @torch.no_grad()
    def probs_and_features(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities and penultimate features (float64 and float32, CPU) of ``images``."""
        images = check_images(images)
        device = next(self.model.parameters()).device
        probs, feats = [], []
        for chunk in images.split(batch_size):
            x = classifier_input(chunk.to(device), self.model.spec)
            f = self.model.features(x)
            probs.append(self.model.head(f).double().softmax(dim=1).cpu())
            feats.append(f.float().cpu())
        return torch.cat(probs), torch.cat(feats)


def load_classifier(dataset: str, device: torch.device | str = "cpu",
                    folder: str | os.PathLike | None = None) -> LoadedClassifier:
    """Load the shipped classifier of ``dataset`` after checking the weights against their JSON record."""
    folder = Path(folder) if folder is not None else weights_dir()
    pt, js = folder / f"classifier-{dataset}.pt", folder / f"classifier-{dataset}.json"
    if not pt.exists() or not js.exists():
        raise ClassifierWeightsError(
            f"no classifier weights for {dataset!r} in {folder} (need {pt.name} and {js.name}). Train them with "
            f"`python -m repro.metrics.classifier --dataset {dataset}` (minutes on a CPU), which writes both files.")
    record = json.loads(js.read_text())
    digest = sha256_file(pt)
    if digest != record.get("weights_sha256"):
        raise ClassifierWeightsError(
            f"{pt} has sha256 {digest} but {js.name} records {record.get('weights_sha256')}: the weights do not "
            f"belong to this record. Restore both files together, or retrain with `{record.get('command')}`.")
    spec = ClassifierSpec(**record["spec"])
    model = SmallCNN(spec)
    model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    return LoadedClassifier(dataset, model.to(device).eval().requires_grad_(False), record)
