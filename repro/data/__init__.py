"""Data sets behind one entry point, :func:`load_dataset`.

=================  ==========================================================================
name               what it is
=================  ==========================================================================
``cifar10``        torchvision's CIFAR-10 (downloads when it can); the paper experiments' default
``cifar10-jpeg``   CIFAR-10 as JPEG q75 ImageFolder zips; label results "CIFAR-10 (JPEG q75)"
``fashion-mnist``  torchvision's Fashion-MNIST, prepared from local gzipped IDX copies when found
``ring8``          8 Gaussians on a circle (2D points)
``grid25``         25 Gaussians on a 5 x 5 grid (2D points)
=================  ==========================================================================
"""

from __future__ import annotations

import os

import torch

from .batches import DeviceBatches, epoch_permutation
from .images import ImageDataset, at_image_size, load_imagefolder_zip, resize_uint8, to_float, to_uint8
from .mixtures import MIXTURES, MixtureDataset, mixture_centers
from .paths import CorruptDatasetError, DatasetNotFoundError, data_root

__all__ = [
    "DATASETS", "load_dataset", "ImageDataset", "MixtureDataset", "DeviceBatches", "epoch_permutation",
    "DatasetNotFoundError", "CorruptDatasetError", "mixture_centers", "load_imagefolder_zip",
    "to_float", "to_uint8", "resize_uint8", "at_image_size", "data_root", "IMAGE_DATASETS",
]

IMAGE_DATASETS = ("cifar10", "cifar10-jpeg", "fashion-mnist")
DATASETS = IMAGE_DATASETS + tuple(MIXTURES)
SPLITS = ("train", "test")


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    image_size: int | None = None,
    subset: int | None = None,
    seed: int = 0,
    download: bool = True,
) -> ImageDataset | MixtureDataset:
    """Load a data set by name.

    Args:
        name: one of :data:`DATASETS`.
        split: ``"train"`` or ``"test"``.
        root: data root (default: ``$REPRO_DATA``, ``./data``, ``<repo>/data``).
        image_size: output side length for images (``None``: native, 32 for CIFAR-10, 28 for
            Fashion-MNIST). Fashion-MNIST at 32 is padded by 2 background pixels per side; other
            sizes are bilinear resizes.
        subset: keep this many items, chosen by ``seed`` (sorted indices, same on every machine).
            For the mixtures, the number of points drawn.
        seed: seed of the subset choice (and of the mixture draw).
        download: allow torchvision to download missing files.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    if subset is not None and subset <= 0:
        raise ValueError(f"subset must be a positive number of items, got {subset}")
    if name in MIXTURES:
        from .mixtures import load_mixture

        return load_mixture(name, split, n=subset, seed=seed)

    from . import images as _im

    root = data_root(root)
    if name == "cifar10":
        ds = _im.load_cifar10(root, split, download=download)
    elif name == "cifar10-jpeg":
        ds = _im.load_cifar10_jpeg(root, split)
    else:
        ds = _im.load_fashion_mnist(root, split, download=download)

    if subset is not None and subset < len(ds):
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:subset].sort().values
        ds.images, ds.labels = ds.images[idx].contiguous(), ds.labels[idx].contiguous()
        ds.notes = (ds.notes + "; " if ds.notes else "") + f"subset of {subset} chosen with seed {seed}"
    ds._checksum = None
    return _im.at_image_size(ds, image_size)
