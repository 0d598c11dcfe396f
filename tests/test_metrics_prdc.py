"""Precision/recall and density/coverage: limits, agreement with the reference packages, no N x N matrix."""

import pytest
import torch

from repro import metrics


def feats(n, d=8, shift=0.0, seed=0, dtype=torch.float64):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype) + shift


def test_precision_recall_of_identical_sets_is_one_one():
    x = feats(200)
    assert metrics.precision_recall(x, x.clone(), k=3) == (1.0, 1.0)


def test_precision_recall_of_far_apart_sets_is_zero_zero():
    assert metrics.precision_recall(feats(200, seed=1), feats(200, shift=100.0, seed=2)) == (0.0, 0.0)


def test_density_coverage_of_far_apart_sets_is_zero_zero():
    assert metrics.density_coverage(feats(200, seed=1), feats(200, shift=100.0, seed=2)) == (0.0, 0.0)


def test_coverage_of_identical_sets_is_one():
    x = feats(200)
    assert metrics.density_coverage(x, x.clone(), k=5)[1] == 1.0


@pytest.mark.parametrize("n_real,n_fake,k", [(300, 300, 5), (250, 400, 3)])
def test_prdc_agree_with_the_prdc_package_on_random_features(n_real, n_fake, k):
    from prdc import compute_prdc

    real, fake = feats(n_real, seed=3), feats(n_fake, shift=0.3, seed=4) * 1.1
    ref = compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    density, coverage = metrics.density_coverage(real, fake, k=k, batch_size=64)
    precision, recall = metrics.precision_recall(real, fake, k=k, batch_size=64)
    assert density == pytest.approx(ref["density"], abs=1e-12)
    assert coverage == pytest.approx(ref["coverage"], abs=1e-12)
    # torch-fidelity averages the 0/1 indicators in float32
    assert precision == pytest.approx(ref["precision"], abs=1e-7)
    assert recall == pytest.approx(ref["recall"], abs=1e-7)


def test_precision_recall_equal_torch_fidelity_full_matrix_computation():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = feats(300, 32, seed=5, dtype=torch.float32), feats(280, 32, 0.2, seed=6, dtype=torch.float32)
    ours = metrics.precision_recall(real, fake, k=3, batch_size=50)
    assert ours == pytest.approx(calculate_precision_recall_full(fake, real, neighborhood=3), abs=0)


def test_results_do_not_depend_on_the_batch_size():
    real, fake = feats(230, seed=7), feats(170, shift=0.5, seed=8)
    for f in (metrics.precision_recall, metrics.density_coverage):
        assert f(real, fake, batch_size=7) == f(real, fake, batch_size=1000)


def test_no_distance_block_exceeds_batch_times_n(monkeypatch):
    real, fake = feats(500, seed=9), feats(400, seed=10)
    biggest = []
    cdist = torch.cdist

    def recording_cdist(a, b, *args, **kwargs):
        out = cdist(a, b, *args, **kwargs)
        biggest.append(out.numel())
        return out

    monkeypatch.setattr(torch, "cdist", recording_cdist)
    metrics.precision_recall(real, fake, batch_size=32)
    metrics.density_coverage(real, fake, batch_size=32)
    assert biggest and max(biggest) <= 32 * 500 < 400 * 500


@pytest.mark.parametrize("batch_size", [37, 1000])
def test_the_per_sample_terms_average_to_the_four_metrics(batch_size):
    real, fake = feats(260, seed=9), feats(210, shift=0.4, seed=10) * 1.2
    terms = metrics.per_sample_terms(real, fake, k_pr=3, k_dc=5, batch_size=batch_size)
    assert {k: v.shape[0] for k, v in terms.items()} == {"precision": 210, "recall": 260, "density": 210,
                                                          "coverage": 260}
    precision, recall = metrics.precision_recall(real, fake, k=3)
    density, coverage = metrics.density_coverage(real, fake, k=5)
    assert float(terms["precision"].mean()) == pytest.approx(precision, abs=1e-7)
    assert float(terms["recall"].mean()) == pytest.approx(recall, abs=1e-7)
    assert float(terms["density"].mean()) == pytest.approx(density, abs=1e-12)
    assert float(terms["coverage"].mean()) == pytest.approx(coverage, abs=1e-12)
    assert 0.05 < precision < 0.95 and 0.05 < recall < 0.95  # neither end, where a wrong side would still agree


def test_recall_and_coverage_errors_follow_the_generated_sets_sampling():
    """Against one fixed real set, fresh generated sets of a shifted law move recall by about 0.03; the
    real images' own terms say 0.02, a third too little; the half-sample estimate over one generated set
    comes within a quarter, and so does the larger of the two, which scores use."""
    real = feats(400, seed=11)
    fake = lambda seed: feats(400, shift=0.5, seed=100 + seed)  # noqa: E731
    spread = torch.tensor([metrics.precision_recall(real, fake(s))[1] for s in range(60)], dtype=torch.float64).std()
    terms = metrics.per_sample_terms(real, fake(0))
    own = float(terms["recall"].std()) / 20
    half = metrics.half_sample_se(real, fake(0), draws=30, seed=0)["recall"]
    assert own < 0.8 * float(spread)
    assert max(half, own) == pytest.approx(float(spread), rel=0.25)
    with pytest.raises(ValueError, match="at least 2 half-samples"):
        metrics.half_sample_se(real, fake(0), draws=1)


def test_each_half_is_scored_as_recall_and_coverage_score_it():
    """The half-sample error scores each half with the reals' balls computed once: the same numbers as
    :func:`precision_recall` and :func:`density_coverage` on those halves (drawn with the same seed)."""
    real, fake = feats(120, seed=3), feats(90, shift=0.4, seed=4)
    g = torch.Generator().manual_seed(7)
    halves = [fake[torch.randperm(90, generator=g)[:45]] for _ in range(5)]
    expected = {"recall": torch.tensor([metrics.precision_recall(real, h)[1] for h in halves], dtype=torch.float64).std(),
                "coverage": torch.tensor([metrics.density_coverage(real, h)[1] for h in halves], dtype=torch.float64).std()}
    got = metrics.half_sample_se(real, fake, draws=5, seed=7, batch_size=32)
    assert got["recall"] > 0 and got["coverage"] > 0
    assert got["recall"] == pytest.approx(float(expected["recall"]), abs=1e-7)  # torch-fidelity counts in float32
    assert got["coverage"] == pytest.approx(float(expected["coverage"]), abs=1e-12)
