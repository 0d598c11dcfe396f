"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) of k-NN balls.

Each real (or fake) sample gets a ball whose radius is the distance to its k-th nearest neighbour
within its own set (the sample itself excluded). Then

- precision: fraction of fakes inside at least one real ball (Kynkaanniemi et al. 2019, eq. 1-2);
- recall:    fraction of reals inside at least one fake ball;
- density:   (1 / kM) sum_j sum_i [fake j inside real ball i]  (Naeem et al. 2020, eq. 3; can exceed 1);
- coverage:  fraction of reals whose ball holds at least one fake  (Naeem et al. 2020, eq. 4).

Nothing here holds an N x M distance matrix: distances are computed ``batch_size`` rows at a time, so
memory is a few blocks of ``batch_size x max(N, M)`` floats (190 MiB per block at N = M = 50k and the
default batch). ``make bench`` measured 199 MiB above the features at N = M = 10k and 962 MiB at 50k
(2048-d, CPU), growing linearly, against 9.3 GiB for one 50k x 50k float32 matrix.

Precision and recall are torch-fidelity's ``calculate_precision_recall_part`` ("inside" means distance
<= radius, as in the reference code of Kynkaanniemi et al.); density and coverage follow the ``prdc``
reference code of Naeem et al. ("inside" means distance < radius), written here in blocks.
Distances are in the features' dtype and on their device.
"""

from __future__ import annotations

import torch

from .checks import check_features, check_same_dim

__all__ = ["knn_radii", "precision_recall", "density_coverage", "per_sample_terms", "half_sample_se"]

DEFAULT_BATCH = 1000


def _features(x, name: str, min_n: int = 1, why: str = "") -> torch.Tensor:
    """N x D finite features (torch or numpy), as floats."""
    x = check_features(x, name, min_n, why)
    if not x.is_floating_point():
        x = x.float()
    return x


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def knn_radii(feats: torch.Tensor, k: int, batch_size: int = DEFAULT_BATCH) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the (k+1)-th smallest, self included)."""
    if not 1 <= k < feats.shape[0]:
        raise ValueError(f"k must be between 1 and N - 1 = {feats.shape[0] - 1}, got {k}")
    # topk of k + 1 (sorted, smallest first) is the kthvalue, several times faster on long rows
    return torch.cat([torch.cdist(chunk, feats).topk(k + 1, dim=1, largest=False).values[:, -1]
                      for chunk in feats.split(batch_size)])


def precision_recall(real_feats, fake_feats, k: int = 3, batch_size: int = DEFAULT_BATCH) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN balls, k = 3 as in the paper."""
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    _check_k(k)
    why = f"precision/recall with k = {k} needs more than {k} samples in each set"
    real, fake = _features(real_feats, "real_feats", k + 1, why), _features(fake_feats, "fake_feats", k + 1, why)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    fake = fake.to(real.dtype)
    precision, recall = calculate_precision_recall_part(fake, real, neighborhood=k, batch_size=batch_size)
    return float(precision), float(recall)


def density_coverage(real_feats, fake_feats, k: int = 5, batch_size: int = DEFAULT_BATCH) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, eq. 3-4) with k-NN balls around the reals, k = 5 as in the paper."""
    _check_k(k)
    real = _features(real_feats, "real_feats", k + 1, f"k-NN balls with k = {k} need more than {k} reals")
    fake = _features(fake_feats, "fake_feats", 1, "density and coverage need at least one fake")
    check_same_dim(real, fake, "real_feats", "fake_feats")
    fake = fake.to(real.dtype)
    radii = knn_radii(real, k, batch_size)
    inside, covered = 0, 0
    for chunk, r in zip(real.split(batch_size), radii.split(batch_size)):
        d = torch.cdist(chunk, fake)
        inside += int((d < r[:, None]).sum())
        covered += int((d.min(dim=1).values < r).sum())
    return inside / (k * fake.shape[0]), covered / real.shape[0]


def per_sample_terms(real_feats, fake_feats, k_pr: int = 3, k_dc: int = 5,
                     batch_size: int = DEFAULT_BATCH) -> dict[str, torch.Tensor]:
    """The per-sample terms whose means are the four metrics, each with the other set's balls held fixed:

    - ``precision``: per fake, 1 when it lies inside a real k_pr-ball (distance <= radius), else 0;
    - ``recall``: per real, 1 when it lies inside a fake k_pr-ball;
    - ``density``: per fake, the number of real k_dc-balls holding it (distance < radius) over k_dc;
    - ``coverage``: per real, 1 when its k_dc-ball holds a fake.

    Their means equal :func:`precision_recall` and :func:`density_coverage` (tests/test_metrics_prdc.py).
    For precision and density, terms of the fakes, their spread is the sampling error of the generated set
    (:func:`repro.metrics.bootstrap.mean_interval`). Recall and coverage are terms of the reals: their
    spread is the real set's error, not the generated set's, which moves them through the fakes' balls
    and positions (:func:`half_sample_se`)."""
    _check_k(k_pr)
    _check_k(k_dc)
    k = max(k_pr, k_dc)
    why = f"k-NN balls with k = {k} need more than {k} samples in each set"
    real, fake = _features(real_feats, "real_feats", k + 1, why), _features(fake_feats, "fake_feats", k_pr + 1, why)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    fake = fake.to(real.dtype)
    real_pr, real_dc = knn_radii(real, k_pr, batch_size), knn_radii(real, k_dc, batch_size)
    precision = torch.cat([(torch.cdist(chunk, real) <= real_pr[None, :]).any(dim=1) for chunk in fake.split(batch_size)])
    density = torch.cat([(torch.cdist(chunk, real) < real_dc[None, :]).sum(dim=1) for chunk in fake.split(batch_size)])
    recall, coverage = _real_terms(real, real_dc, fake, k_pr, batch_size)
    return {"precision": precision.double(), "recall": recall, "density": density.double() / k_dc, "coverage": coverage}


def _real_terms(real: torch.Tensor, real_dc: torch.Tensor, fake: torch.Tensor, k_pr: int,
                batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Recall's and coverage's terms, one per real: inside a fake k_pr-ball (distance <= its radius), and
    its own k_dc-ball (radius ``real_dc``) holding a fake (distance < radius)."""
    fake_pr = knn_radii(fake, k_pr, batch_size)
    recall, coverage = [], []
    for chunk, r in zip(real.split(batch_size), real_dc.split(batch_size)):
        d = torch.cdist(chunk, fake)
        recall.append((d <= fake_pr[None, :]).any(dim=1))
        coverage.append(d.min(dim=1).values < r)
    return torch.cat(recall).double(), torch.cat(coverage).double()


def half_sample_se(real_feats, fake_feats, k_pr: int = 3, k_dc: int = 5, draws: int = 30, seed: int = 0,
                   batch_size: int = DEFAULT_BATCH) -> dict[str, float]:
    """Standard errors of recall and coverage from the sampling of the generated set: their standard
    deviation over ``draws`` random halves of the fakes, each scored with its own k-NN balls (the
    half-sample estimate: a mean of N independent terms over a half drawn without replacement varies by
    sigma² (1/m - 1/N) = sigma² / N at m = N / 2, the whole set's sampling variance). The real set, held
    fixed, adds its own error, which is the same for every model scored against it. Each half is scored
    as :func:`precision_recall` and :func:`density_coverage` would score it, with the reals' balls
    computed once."""
    if draws < 2:
        raise ValueError(f"draws = {draws}: a standard deviation needs at least 2 half-samples (use 30 or more)")
    _check_k(k_pr)
    _check_k(k_dc)
    real = _features(real_feats, "real_feats", k_dc + 1, f"k-NN balls with k = {k_dc} need more than {k_dc} reals")
    fake = _features(fake_feats, "fake_feats", 2 * (k_pr + 1), f"halves of the fakes need more than {k_pr} each")
    check_same_dim(real, fake, "real_feats", "fake_feats")
    fake = fake.to(real.dtype)
    real_dc = knn_radii(real, k_dc, batch_size)
    g = torch.Generator().manual_seed(seed)
    recall, coverage = [], []
    for _ in range(draws):
        half = fake[torch.randperm(fake.shape[0], generator=g)[: fake.shape[0] // 2]]
        terms = _real_terms(real, real_dc, half, k_pr, batch_size)
        recall.append(float(terms[0].mean()))
        coverage.append(float(terms[1].mean()))
    return {"recall": float(torch.tensor(recall, dtype=torch.float64).std()),
            "coverage": float(torch.tensor(coverage, dtype=torch.float64).std())}
