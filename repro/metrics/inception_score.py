"""Inception Score from class probabilities (Salimans et al. 2016, sec. 4).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x),

computed on ``splits`` consecutive chunks of the samples, reporting the mean and the (population)
standard deviation over chunks, as in the reference code of Salimans et al. The reference IS uses the
1008 logits of the TF-2015-12-05 Inception without the final bias (torch-fidelity's
``logits_unbiased``); pass ``softmax`` of those. Probabilities of exactly 0 contribute 0 (0 log 0 = 0).
"""

from __future__ import annotations

import numpy as np
import torch

from .checks import check_probs

__all__ = ["inception_score", "kl_to_marginal"]


def kl_to_marginal(probs: torch.Tensor) -> torch.Tensor:
    """Per-sample KL( p(y|x) || p(y) ) in nats, with p(y) the mean of the rows of ``probs``."""
    p = probs.double()
    marginal = p.mean(dim=0, keepdim=True)
    return (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(dim=1)


def inception_score(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and std over ``splits`` chunks of exp(mean KL(p(y|x) || p(y))); ``probs`` is N x K."""
    probs = check_probs(probs)
    n = probs.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    scores = [float(kl_to_marginal(probs[i * n // splits:(i + 1) * n // splits]).mean().exp())
              for i in range(splits)]
    return float(np.mean(scores)), float(np.std(scores))
