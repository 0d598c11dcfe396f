"""Mode coverage on 2D Gaussian mixtures (Metz et al. 2017; Srivastava et al. 2017, VEEGAN; Lin et al.
2018, PacGAN).

Each sample is assigned to its nearest mode centre. It is *high quality* when it lies within
``3 * std`` of that centre (VEEGAN sec. 5.1). A mode is *hit* when at least ``min_count`` high-quality
samples fall on it; PacGAN (sec. 5) uses 20 of 2,500 samples, which is the default here as the
fraction ``min_fraction = 20 / 2500`` so that the rule scales with the number of samples.
"""

from __future__ import annotations

import torch

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


def mode_coverage(points: torch.Tensor, centers: torch.Tensor, std: float,
                  min_fraction: float = 20 / 2500, radius: float = 3.0) -> dict:
    """Modes hit and sample quality of 2D ``points`` (N x 2) against mixture ``centers`` (K x 2).

    Returns a dict with ``modes_hit`` (int), ``num_modes``, ``high_quality_fraction`` (fraction of
    samples within ``radius * std`` of their nearest mode), ``counts`` (high-quality samples per mode),
    ``kl_to_uniform`` (KL of the high-quality mode histogram from the uniform one, in nats; PacGAN's
    "reverse KL" uses the opposite direction and is infinite once a mode is lost) and ``n``.
    """
    if points.ndim != 2 or points.shape[1] != centers.shape[1]:
        raise ValueError(f"points must be N x {centers.shape[1]}, got {tuple(points.shape)}")
    n, k = points.shape[0], centers.shape[0]
    if n == 0:
        raise ValueError("mode_coverage needs at least one sample")
    p = points.detach().to(torch.float64).cpu()
    c = centers.to(torch.float64).cpu()
    d = torch.cdist(p, c)
    dist, nearest = d.min(dim=1)
    good = dist <= radius * std
    counts = torch.bincount(nearest[good], minlength=k)
    hit, kl, threshold = histogram_coverage(counts, n, min_fraction)
    return {
        "modes_hit": hit,
        "num_modes": k,
        "high_quality_fraction": float(good.double().mean()),
        "counts": counts.tolist(),
        "kl_to_uniform": kl,
        "min_count": threshold,
        "n": n,
    }
