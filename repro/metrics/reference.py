"""Features of a reference data set, cached on disk.

A cache entry is keyed by data set, split, number of images (and the subset seed), the image size the
images are served at, the extractor, the resize in front of it, and the data's sha256; it holds the
features (for KID and the k-NN metrics), their mean and covariance (for FID) and the data set's
record. The cache folder is, in order: the ``cache_dir`` argument, ``$REPRO_CACHE``, ``<data root>/cache``
when the data root exists, and ``~/.cache/repro``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import torch

from ..data import ImageDataset, data_root, load_dataset
from ..io import atomic_torch_save
from .frechet import feature_statistics

__all__ = ["FeatureExtractor", "default_cache_dir", "reference_features"]

CACHE_VERSION = 1


class FeatureExtractor(Protocol):
    """Anything that maps uint8 images to named feature tensors."""

    key: str  # short, file-name safe, changes when the features would change
    name: str

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]: ...


def default_cache_dir(cache_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("REPRO_CACHE"):
        return Path(os.environ["REPRO_CACHE"]).expanduser()
    data = data_root(root)
    return data / "cache" if data.is_dir() else Path.home() / ".cache" / "repro"


def reference_features(dataset: str, split: str, extractor: FeatureExtractor, image_size: int | None = None,
                       n: int | None = None, seed: int = 0, root: str | os.PathLike | None = None,
                       cache_dir: str | os.PathLike | None = None, batch_size: int = 500,
                       progress: bool = True, stats_of: str | None = "2048",
                       ds: ImageDataset | None = None) -> dict:
    """Features of ``dataset``/``split`` (``n`` images chosen with ``seed``, all when ``None``), cached.

    ``ds``: that data set already loaded (``load_dataset`` with these arguments), to save loading it
    again. Returns ``{"features": {name: tensor}, "mu", "sigma" (of ``stats_of``, if given), "data":
    info, "extractor": name, "image_size": size}``.
    """
    from tqdm import tqdm

    if ds is None:
        ds = load_dataset(dataset, split, root=root, image_size=image_size, subset=n, seed=seed)
    size = ds.images.shape[-1]
    tag = f"{dataset}-{split}-{len(ds)}-s{seed}-{size}px-{extractor.key}-{ds.checksum[:12]}"
    path = default_cache_dir(cache_dir, root) / f"{tag}.pt"
    if path.is_file():
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            if entry.get("version") == CACHE_VERSION and entry["data"]["sha256"] == ds.checksum:
                return entry
        except Exception:  # unreadable or from another version: recompute and overwrite
            pass
    parts: dict[str, list[torch.Tensor]] = {}
    with tqdm(total=len(ds), unit="img", desc=f"{dataset} {split} features", disable=not progress,
              leave=False) as bar:
        for chunk in ds.images.split(batch_size):
            for k, v in extractor(chunk).items():
                parts.setdefault(k, []).append(v)
            bar.update(chunk.shape[0])
    entry = {"version": CACHE_VERSION, "features": {k: torch.cat(v) for k, v in parts.items()},
             "data": ds.info(), "extractor": extractor.name, "image_size": size}
    if stats_of is not None:
        stats = feature_statistics(entry["features"][stats_of])
        entry["mu"], entry["sigma"] = torch.from_numpy(stats["mu"]), torch.from_numpy(stats["sigma"])
    atomic_torch_save(entry, path)
    return entry
