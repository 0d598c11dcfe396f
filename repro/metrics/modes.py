"""Mode coverage on 2D Gaussian mixtures (Metz et al. 2017; Srivastava et al. 2017, VEEGAN; Lin et al.
2018, PacGAN).

Each sample is assigned to its nearest mode centre. It is *high quality* when it lies within
``3 * std`` of that centre (VEEGAN sec. 5.1; PacGAN's code uses the same threshold). Two rules count a
mode as *hit*:

- ``modes_hit_any``: at least one high-quality sample falls on it, the rule of PacGAN's code for its
  Table 1 (2,500 samples, the measures of VEEGAN's Table 1 by its caption);
- ``modes_hit``: at least ``min_count`` high-quality samples fall on it, by default 20 of 2,500 given as
  the fraction ``min_fraction = 20 / 2500`` so that it scales with the number of samples. This is our
  own stricter rule, not a paper's: one stray sample does not count as covering a mode.

``kl_to_uniform`` is KL(q || u), q the histogram of high-quality samples over the modes and u the
uniform one: PacGAN's "reverse KL" (model against data, Table 1). It is finite when modes are missed
and equals ``log K - H(q)``, with H(q) the "entropy of coverage" PacGAN's code logs.
"""

from __future__ import annotations

import torch

from .checks import as_tensor, check_features

__all__ = ["histogram_coverage", "mode_coverage"]


def histogram_coverage(counts: torch.Tensor, n: int, min_fraction: float) -> tuple[int, float, int]:
    """Bins of ``counts`` (K) holding at least ``min_fraction`` of ``n`` samples (and at least one), the KL
    of the normalised histogram from uniform in nats (NaN when it is empty), and that count threshold."""
    threshold = max(1, int(round(min_fraction * n)))
    total = counts.sum()
    kl = float("nan")
    if total > 0:
        hist = counts.double() / total
        nz = hist > 0
        kl = float((hist[nz] * (hist[nz] * counts.numel()).log()).sum())
    return int((counts >= threshold).sum()), kl, threshold


def _checked(points, centers, std: float, min_fraction: float, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs as tensors (numpy accepted), refused if a count would be meaningless: NaN or
    infinite points (they would silently count as missed), wrong shapes, a non-positive std."""
    centers = check_features(centers, "centers")
    points = as_tensor(points, "points")
    if points.ndim != 2 or points.shape[1] != centers.shape[1]:
        raise ValueError(f"points must be N x {centers.shape[1]}, got {tuple(points.shape)}")
    if points.shape[0] == 0:
        raise ValueError("mode_coverage needs at least one sample (got 0 points)")
    points = check_features(points, "points")
    if not (float(std) > 0 and float(radius) > 0 and 0 <= float(min_fraction) <= 1):
        raise ValueError(f"std and radius must be positive and min_fraction in [0, 1], got std={std}, "
                         f"radius={radius}, min_fraction={min_fraction}")
    return points, centers


def mode_coverage(points: torch.Tensor, centers: torch.Tensor, std: float,
                  min_fraction: float = 20 / 2500, radius: float = 3.0) -> dict:
    """Modes hit and sample quality of 2D ``points`` (N x 2) against mixture ``centers`` (K x 2).

    Returns a dict with ``modes_hit`` (int, modes with at least ``min_count`` high-quality samples),
    ``modes_hit_any`` (modes with at least one, the papers' rule), ``num_modes``,
    ``high_quality_fraction`` (fraction of samples within ``radius * std`` of their nearest mode),
    ``counts`` (high-quality samples per mode), ``kl_to_uniform`` (KL(q || uniform) of the high-quality
    mode histogram q, in nats: PacGAN's "reverse KL"; NaN when no sample is high quality), ``min_count``
    and ``n``.
    """
    points, centers = _checked(points, centers, std, min_fraction, radius)
    n, k = points.shape[0], centers.shape[0]
    p = points.detach().to(torch.float64).cpu()
    c = centers.to(torch.float64).cpu()
    d = torch.cdist(p, c)
    dist, nearest = d.min(dim=1)
    good = dist <= radius * std
    counts = torch.bincount(nearest[good], minlength=k)
    hit, kl, threshold = histogram_coverage(counts, n, min_fraction)
    return {
        "modes_hit": hit,
        "modes_hit_any": int((counts > 0).sum()),
        "num_modes": k,
        "high_quality_fraction": float(good.double().mean()),
        "counts": counts.tolist(),
        "kl_to_uniform": kl,
        "min_count": threshold,
        "n": n,
    }
