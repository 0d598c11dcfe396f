"""Checks at every metric's entry: wrong input is refused, with the reason, before any expensive work.

A metric given the wrong input rarely fails by itself: images in [0, 255] are clamped to white, NaN
features turn KID into NaN and precision into 0, a numpy array fails deep inside torch. These checks
run first and say what was expected:

- images: N x C x H x W, ``uint8`` in [0, 255] or float in [-1, 1] (the convention of DCGAN and DDPM
  outputs); floats outside [-1, 1] by more than one uint8 level are refused, never clamped;
- features: N x D, finite, with the number of samples the metric needs;
- class probabilities: N x K, finite, non-negative rows summing to 1;
- torch tensors and numpy arrays are both accepted; anything else is a ``TypeError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["ImageRangeError", "NonFiniteSamplesError", "IMAGE_TOLERANCE", "as_tensor", "check_images",
           "check_features", "check_same_dim", "check_probs"]

# one uint8 level: what quantising a sampler that ends exactly at +-1 may overshoot by
IMAGE_TOLERANCE = 1 / 127.5


class ImageRangeError(ValueError):
    """Float images outside [-1, 1] (e.g. in [0, 255]) or apparently in [0, 1]."""


class NonFiniteSamplesError(ValueError):
    """The generator returned NaN or infinite pixels (a diverged model)."""


def as_tensor(x: Any, what: str) -> torch.Tensor:
    """``x`` as a torch tensor (numpy arrays are converted without a copy); anything else is refused."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    raise TypeError(f"{what} must be a torch.Tensor or a numpy array, got {type(x).__name__}")


def check_images(x: Any, what: str = "images", unit_interval_check: bool = False,
                 first_index: int = 0, total: int | None = None) -> torch.Tensor:
    """Images as a tensor, refused unless uint8 or finite float in [-1, 1] (see the module docstring).

    ``unit_interval_check`` also refuses float images with no value below 0 (unless all values are
    equal): real images in [-1, 1] always have some, images in [0, 1] (torchvision's ``ToTensor``)
    never do. ``first_index`` and
    ``total`` place a batch within the whole set in the messages.
    """
    x = as_tensor(x, what)
    if x.ndim != 4:
        raise ValueError(f"{what} must be N x C x H x W, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: no images (N = 0)")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise TypeError(f"{what} must be uint8 in [0, 255] or float in [-1, 1], got dtype {x.dtype}")
    bad = ~torch.isfinite(x).flatten(1).all(dim=1)
    if bad.any():
        first = first_index + int(bad.nonzero()[0])
        of = f"{total} samples" if total is not None else f"{x.shape[0]} samples"
        raise NonFiniteSamplesError(
            f"{int(bad.sum())} of {of} contain NaN or infinite values (the first is sample {first})")
    lo, hi = (float(v) for v in torch.aminmax(x.float()))
    if lo < -1 - IMAGE_TOLERANCE or hi > 1 + IMAGE_TOLERANCE:
        raise ImageRangeError(
            f"{what} are floats in [{lo:.4g}, {hi:.4g}], but float images must lie in [-1, 1] (or pass uint8 "
            "in [0, 255]). Map [0, 255] floats with x / 127.5 - 1 and [0, 1] floats with x * 2 - 1; nothing "
            "is clamped")
    if unit_interval_check and lo >= 0 and hi > lo:  # a constant set (e.g. all zeros) is ambiguous: let it be
        raise ImageRangeError(
            f"{what} are floats in [{lo:.4g}, {hi:.4g}] with no value below 0: they look like images in [0, 1] "
            "(torchvision's ToTensor), but float images must lie in [-1, 1]. Pass x * 2 - 1, or uint8 images "
            "if no pixel is really darker than mid-grey")
    return x


def check_features(x: Any, what: str = "features", min_n: int = 1, why: str = "") -> torch.Tensor:
    """N x D finite features with N >= ``min_n`` (``why`` says which metric needs that many)."""
    x = as_tensor(x, what)
    if x.ndim != 2:
        raise ValueError(f"{what} must be N x D, got shape {tuple(x.shape)}")
    if x.shape[0] < min_n:
        need = f" ({why})" if why else ""
        raise ValueError(f"{what} hold {x.shape[0]} samples; at least {min_n} are needed{need}")
    if x.shape[1] == 0:
        raise ValueError(f"{what} have no dimensions (D = 0)")
    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x).all(dim=1)
        if bad.any():
            raise ValueError(f"{what} contain NaN or infinite values ({int(bad.sum())} of {x.shape[0]} rows, "
                             f"the first is row {int(bad.nonzero()[0])})")
    elif x.dtype == torch.bool:
        raise TypeError(f"{what} must be numbers, got dtype {x.dtype}")
    return x


def check_same_dim(a: torch.Tensor, b: torch.Tensor, what_a: str, what_b: str) -> None:
    """Both feature sets must have the same dimension D."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{what_a} are {a.shape[1]}-dimensional but {what_b} are {b.shape[1]}-dimensional; "
                         "compute both with the same extractor")


def check_probs(p: Any, what: str = "probs") -> torch.Tensor:
    """N x K class probabilities: finite, non-negative, rows summing to 1 (within 1e-4)."""
    p = as_tensor(p, what)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"{what} must be N x K class probabilities with N, K >= 1, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    if (p < 0).any() or not torch.allclose(p.double().sum(1), torch.ones(p.shape[0], dtype=torch.float64),
                                           atol=1e-4):
        raise ValueError(f"rows of {what} must be probability vectors (non-negative, summing to 1); "
                         "apply softmax to logits first")
    return p
