"""The guidance claim's verdict: the trade is read off both ends of each scale, beyond each score's interval."""

from __future__ import annotations

import pytest

from repro.records import RunRecord
from repro.report.guidance_claim import guidance_tradeoff, kind_outcome

HALF = 0.03  # each score's 95% half-width in these records


def _point(guidance, scale, precision, recall, accuracy=0.5, half=HALF):
    row = {"guidance": guidance, "scale": scale, "n": 1000, "precision": precision, "recall": recall,
           "label_accuracy": accuracy}
    if half is not None:
        for key in ("precision", "recall"):
            row[f"{key}_lo"], row[f"{key}_hi"] = row[key] - half, row[key] + half
    return row


def _sweep(tmp_path, rows):
    rec = RunRecord(tmp_path / "runs" / "guidance" / "sweep", "guidance-sweep", {"steps": 50, "sampler": "ddim"},
                    data={"name": "fashion-mnist", "label": "Fashion-MNIST"})
    for r in rows:
        rec.log(r)
    rec.finish()
    return tmp_path


def test_precision_up_and_recall_down_beyond_the_noise_in_both_kinds_is_supported(tmp_path):
    rows = [_point("dcgan", None, 0.70, 0.50, None), _point("classifier", 0.0, 0.60, 0.55, 0.7),
            _point("classifier", 8.0, 0.80, 0.30, 0.99), _point("free", 0.0, 0.62, 0.54), _point("free", 4.0, 0.75, 0.40)]
    f = guidance_tradeoff(_sweep(tmp_path, rows))
    assert f.verdict == "supported"
    assert f.ours.startswith("Fashion-MNIST, N = 1,000 per point, one seed, 50 ddim steps.")
    assert "classifier guidance, s = 0 → 8: precision 0.600 [0.570, 0.630] → 0.800 [0.770, 0.830]" in f.ours
    assert "label accuracy 0.700 → 0.990 (trade)" in f.ours
    assert "at s = 8 against it: the guided DDPM ahead" in f.ours and "95% interval" in f.sure


@pytest.mark.parametrize("high, outcome", [((0.64, 0.52), "within noise"),  # moves inside 2 x 0.03 / 1.96 x ...
                                           ((0.50, 0.70), "reverse"),
                                           ((0.80, 0.55), "precision up, recall level"),
                                           ((0.60, 0.30), "precision level, recall down")])
def test_each_kind_is_read_beyond_its_scores_intervals(high, outcome):
    assert kind_outcome(_point("classifier", 0.0, 0.60, 0.55), _point("classifier", 8.0, *high)) == outcome


def test_kinds_that_disagree_are_mixed_and_a_point_without_intervals_is_provisional(tmp_path):
    rows = [_point("classifier", 0.0, 0.60, 0.55), _point("classifier", 8.0, 0.80, 0.30),
            _point("free", 0.0, 0.62, 0.54), _point("free", 4.0, 0.63, 0.53)]
    f = guidance_tradeoff(_sweep(tmp_path / "a", rows))
    assert f.verdict == "mixed: classifier guidance: trade, classifier-free guidance: within noise"
    bare = [_point("classifier", 0.0, 0.60, 0.55, half=None), _point("classifier", 8.0, 0.80, 0.30, half=None)]
    f = guidance_tradeoff(_sweep(tmp_path / "b", bare))
    assert f.verdict == "provisional: classifier guidance: unknown" and "without intervals" in f.sure


def test_no_finished_sweep_is_not_yet_tested(tmp_path):
    assert guidance_tradeoff(tmp_path).verdict == "not yet tested"
