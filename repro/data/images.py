"""Image data sets: CIFAR-10, Fashion-MNIST and ImageFolder zips (CIFAR-10 JPEG q75).

Every loader returns an :class:`ImageDataset`: a uint8 tensor N x C x H x W plus integer labels,
served as floats in [-1, 1]. Image sets this small live in memory (and on the GPU, see
:mod:`repro.data.batches`), so no per-image decoding happens during training.

Fashion-MNIST's 28 x 28 images are *padded* to 32 x 32 with 2 background pixels per side when
``image_size=32`` (exact pixels, no interpolation); any other ``image_size`` is reached by bilinear
resizing (antialiased) from the native size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_write
from . import integrity
from .paths import CorruptDatasetError, DatasetNotFoundError, candidate_dirs, relative_source

__all__ = ["ImageDataset", "at_image_size", "load_cifar10", "load_fashion_mnist", "load_imagefolder_zip", "load_cifar10_jpeg"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class ImageDataset:
    """Images as uint8 (N x C x H x W) with labels; items are ``(x in [-1, 1], label)``."""

    name: str
    label: str  # how figures and tables must name it, e.g. "CIFAR-10 (JPEG q75)"
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str  # where the files were read, relative to the data root holding them
    notes: str = ""
    _checksum: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_float(self.images[i]), int(self.labels[i])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def checksum(self) -> str:
        """SHA-256 of the image and label bytes as served (independent of the storage format)."""
        if self._checksum is None:
            h = hashlib.sha256(self.images.contiguous().numpy().tobytes())
            h.update(self.labels.to(torch.int64).numpy().tobytes())
            self._checksum = h.hexdigest()
        return self._checksum

    def info(self) -> dict:
        """What a manifest records about the data."""
        return {"name": self.name, "label": self.label, "split": self.split, "n": len(self),
                "shape": list(self.shape), "sha256": self.checksum, "source": self.source, "notes": self.notes}


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding to the nearest level (clamped)."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


def resize_uint8(images: torch.Tensor, size: int, pad_from: int | None = None) -> torch.Tensor:
    """Pad (when ``size - H`` is the allowed padding) or bilinearly resize a uint8 batch to ``size``."""
    h = images.shape[-1]
    if size == h:
        return images
    if pad_from is not None and h == pad_from and size == pad_from + 4:
        return F.pad(images, (2, 2, 2, 2), value=0)
    out = []
    for chunk in images.split(4096):
        y = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < h)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


# -- CIFAR-10 (torchvision's pickle batches) ----------------------------------------------------

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def at_image_size(ds: ImageDataset, image_size: int | None) -> ImageDataset:
    """``ds`` served at ``image_size`` x ``image_size``: a new data set, ``ds`` itself when the size is its own.

    Fashion-MNIST goes from 28 to 32 by padding (exact pixels); any other change is a bilinear resize.
    """
    if image_size is None or image_size == ds.images.shape[-1]:
        return ds
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    pad_from = 28 if ds.name == "fashion-mnist" else None
    how = "padded" if pad_from and image_size == 32 else "bilinear-resized"
    return replace(ds, images=resize_uint8(ds.images, image_size, pad_from=pad_from), _checksum=None,
                   notes=(ds.notes + "; " if ds.notes else "") + f"{how} to {image_size}x{image_size}")


def load_cifar10(root: Path, split: str, download: bool = True) -> ImageDataset:
    """CIFAR-10 from torchvision's ``cifar-10-batches-py`` folder under ``root``; downloads if absent."""
    folder = root / CIFAR_DIR
    files = [folder / b for b in CIFAR_BATCHES[split]]
    if not all(f.exists() for f in files) and download:
        try:
            import torchvision

            torchvision.datasets.CIFAR10(str(root), train=split == "train", download=True)
        except Exception as e:  # no network, proxy errors, ...
            missing = [f.name for f in files if not f.exists()]
            raise DatasetNotFoundError(
                f"CIFAR-10 ({split}) not found under {folder} (missing {', '.join(missing)}) and the download "
                f"failed ({type(e).__name__}: {e}). Put torchvision's cifar-10-batches-py folder (from "
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) in the data root "
                f"({root}; set it with root=... or $REPRO_DATA), or use name='cifar10-jpeg' for the "
                "JPEG q75 copy (results then labelled 'CIFAR-10 (JPEG q75)')."
            ) from None
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR-10 ({split}) not found under {folder} (missing {', '.join(missing)}); "
            "call with download=True on a machine with internet, or use name='cifar10-jpeg'."
        )
    xs, ys = [], []
    for f in files:
        integrity.verify_file(f, integrity.CIFAR10_MD5.get(f.name), "md5",
                              fix=f"delete {f} and download again (download=True on a machine with internet)")
        try:
            with open(f, "rb") as fh:
                d = pickle.load(fh, encoding="latin1")
            xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d["labels"], dtype=np.int64))
        except Exception as e:
            raise CorruptDatasetError(
                f"CIFAR-10 file {f} is corrupt ({type(e).__name__}: {e}); delete {folder} and download again"
            ) from None
    return ImageDataset("cifar10", "CIFAR-10", split, torch.from_numpy(np.concatenate(xs)),
                        torch.from_numpy(np.concatenate(ys)), CIFAR10_CLASSES, relative_source(folder, root))


# -- Fashion-MNIST (IDX files) --------------------------------------------------------------------

FASHION_SOURCES = ("Debian's dataset-fashion-mnist package or "
                   "https://github.com/zalandoresearch/fashion-mnist (data/fashion/*.gz)")


def _check_idx(data: bytes, what: str, fix: str) -> None:
    """An IDX file (LeCun's MNIST format) holds exactly the bytes its header announces."""
    ndim = data[3] if len(data) >= 4 else 0
    head = 4 + 4 * ndim
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or ndim not in (1, 3) or len(data) < head:
        raise CorruptDatasetError(f"{what} is not an IDX file of uint8 data (bad header); {fix}")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(data) != head + int(np.prod(dims)):
        raise CorruptDatasetError(
            f"{what} announces {' x '.join(map(str, dims))} bytes of data but holds {len(data) - head} "
            f"(truncated or padded); {fix}")


def _read_fashion_copy(d: Path, n: str) -> bytes:
    """The decompressed IDX ``n`` from folder ``d`` (``n`` or ``n.gz``), checked before it is used."""
    src = d / n if (d / n).exists() else d / f"{n}.gz"
    fix = f"replace {src} with a good copy (from {FASHION_SOURCES})"
    try:
        integrity.verify_file(src, fix=fix)  # against a SHA256SUMS beside it, if any
        data = src.read_bytes()
        if src.suffix == ".gz":
            data = gzip.decompress(data)
    except PermissionError as e:
        raise PermissionError(
            e.errno, f"cannot read the Fashion-MNIST copy {src} ({e.strerror}); make it readable for this "
            "user, or put a readable copy in the data root (root=... or $REPRO_DATA)", str(src)) from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise CorruptDatasetError(f"Fashion-MNIST file {src} is corrupt ({e}); {fix}") from None
    what = f"Fashion-MNIST file {src}" + (" (decompressed)" if src.suffix == ".gz" else "")
    _check_idx(data, what, fix)
    integrity.verify_bytes(data, integrity.FASHION_MNIST_SHA256.get(n), what, fix)
    return data


def _holds_all(folder: Path, names: list[str]) -> bool:
    """Whether ``folder`` has each of ``names``, gzipped or not; a folder that cannot be looked into is
    named with the fix."""
    try:
        return all((folder / f"{n}.gz").exists() or (folder / n).exists() for n in names)
    except PermissionError as e:
        raise PermissionError(
            e.errno, f"cannot look into the data folder {folder} ({e.strerror}); make it readable for this user "
            f"(e.g. chmod u+rx {folder}), or point the data root at another copy (root=... or $REPRO_DATA)",
            str(folder)) from None


def _prepare_fashion_raw(root: Path) -> Path:
    """Make ``root/FashionMNIST/raw`` hold the four decompressed IDX files, from any copy found.

    Each copy is checked (IDX header, published SHA-256 of the content, ``SHA256SUMS`` beside it)
    before it is written, so a bad source is named and never lands in ``raw/``.
    """
    raw = root / "FashionMNIST" / "raw"
    names = [n for pair in FASHION_FILES.values() for n in pair]
    if all((raw / n).exists() for n in names):
        return raw
    for d in candidate_dirs(root, "fashion-mnist", system="fashion-mnist") + [raw]:
        if _holds_all(d, names):
            for n in names:
                if (raw / n).exists():
                    continue
                data = _read_fashion_copy(d, n)
                try:
                    atomic_write(raw / n, data)
                except PermissionError as e:
                    raise PermissionError(
                        e.errno, f"Fashion-MNIST is decompressed into {raw} for torchvision, but that folder "
                        f"cannot be written ({e.strerror}). Point the data root at a writable folder "
                        f"(root=... or $REPRO_DATA); the copy in {d} is still read from there", str(raw / n)
                    ) from None
            return raw
    return raw


def _verify_fashion_raw(raw: Path, split: str) -> None:
    """Check the split's decompressed IDX files in ``raw/`` against the published SHA-256."""
    for n in FASHION_FILES[split]:
        if (raw / n).exists():
            integrity.verify_file(
                raw / n, integrity.FASHION_MNIST_SHA256.get(n),
                fix=f"delete {raw / n}; it is made again from the .gz copies found in the data root or the "
                    f"shared data folder, or downloaded (else put a good copy from {FASHION_SOURCES} there)")


def load_fashion_mnist(root: Path, split: str, download: bool = True) -> ImageDataset:
    """Fashion-MNIST through torchvision, preparing its ``raw/`` folder from local gzipped IDX copies."""
    import torchvision

    raw = _prepare_fashion_raw(root)
    _verify_fashion_raw(raw, split)
    try:
        ds = torchvision.datasets.FashionMNIST(str(root), train=split == "train", download=download)
    except RuntimeError as e:
        if "not found" not in str(e).lower() and "download" not in str(e).lower():
            raise CorruptDatasetError(f"Fashion-MNIST under {raw} cannot be read ({e}); delete it and retry") from None
        raise DatasetNotFoundError(
            f"Fashion-MNIST ({split}) not found in {raw} and could not be downloaded. Put the four IDX files "
            f"({', '.join(FASHION_FILES['train'] + FASHION_FILES['test'])}, gzipped or not) in "
            f"{root / 'fashion-mnist'} or {raw}, or install Debian's dataset-fashion-mnist package."
        ) from None
    except Exception as e:
        if isinstance(e, (DatasetNotFoundError, CorruptDatasetError)):
            raise
        raise CorruptDatasetError(
            f"Fashion-MNIST IDX files in {raw} are corrupt ({type(e).__name__}: {e}); delete them and retry"
        ) from None
    _verify_fashion_raw(raw, split)  # files torchvision has just downloaded
    images = ds.data.unsqueeze(1).contiguous()
    return ImageDataset("fashion-mnist", "Fashion-MNIST", split, images, ds.targets.clone(), FASHION_CLASSES,
                        relative_source(raw, root))


# -- ImageFolder zips (CIFAR-10 JPEG q75, or a user's own) ---------------------------------------

def load_imagefolder_zip(path: str | os.PathLike, split: str | None = None, mode: str = "RGB") -> tuple[
        torch.Tensor, torch.Tensor, list[str]]:
    """Decode an ImageFolder zip (``[split/]<class>/<file>``) into uint8 images, labels and class names.

    Classes are the sorted folder names, as in torchvision's ``ImageFolder``; files are read in
    sorted order, so the result is the same on every machine.
    """
    from PIL import Image

    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise CorruptDatasetError(f"{path} is not a readable zip file ({e}); replace it with a good copy") from None
    with zf:
        members = sorted(n for n in zf.namelist() if not n.endswith("/"))
        parts = [n.split("/") for n in members]
        if split is not None and any(p[0] == split for p in parts):
            parts = [p for p in parts if p[0] == split and len(p) == 3]
            parts = [p[1:] for p in parts]
            prefix = f"{split}/"
        else:
            parts = [p for p in parts if len(p) == 2]
            prefix = ""
        if not parts:
            raise CorruptDatasetError(f"{path} holds no '<class>/<image>' files (ImageFolder layout expected)")
        classes = sorted({p[0] for p in parts})
        index = {c: i for i, c in enumerate(classes)}
        images, labels = [], []
        for cls, fname in parts:
            name = prefix + cls + "/" + fname
            try:
                with Image.open(io.BytesIO(zf.read(name))) as im:
                    images.append(np.asarray(im.convert(mode), dtype=np.uint8))
            except Exception as e:
                raise CorruptDatasetError(f"{path}:{name} cannot be decoded ({type(e).__name__}: {e})") from None
            labels.append(index[cls])
    arr = np.stack(images)
    arr = arr[..., None] if arr.ndim == 3 else arr
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels), classes


def load_cifar10_jpeg(root: Path, split: str) -> ImageDataset:
    """The CIFAR-10 JPEG q75 copy: ``cifar10-jpeg/{train,test}.zip`` in the data root or ``../shared/data``."""
    tried = []
    for d in candidate_dirs(root, "cifar10-jpeg"):
        z = d / f"{split}.zip"
        tried.append(str(z))
        if z.exists():
            integrity.verify_file(z, integrity.CIFAR10_JPEG_SHA256.get(z.name))
            images, labels, classes = load_imagefolder_zip(z, split=split)
            return ImageDataset(
                "cifar10-jpeg", "CIFAR-10 (JPEG q75)", split, images, labels, classes, relative_source(z, root),
                notes="lossy JPEG quality 75, 4:2:0 chroma; not comparable with published CIFAR-10 numbers")
    raise DatasetNotFoundError(
        f"cifar10-jpeg ({split}) not found; looked for {', '.join(tried)}. Put the ImageFolder zip "
        f"'{split}.zip' (layout {split}/<class>/<image>.jpg) in {root / 'cifar10-jpeg'}, or use name='cifar10' "
        "for the original CIFAR-10."
    )

