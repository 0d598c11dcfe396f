"""The learning-rate grids of both studies grow past an edge that wins (repro.report.selection)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from repro.report import images, selection


def test_beyond_edge_steps_out_of_the_grid_on_the_side_that_won():
    grid = [3e-5, 1e-4, 3e-4]
    assert selection.beyond_edge(grid, 3e-5) == 1e-5
    assert selection.beyond_edge(grid, 3e-4) == 9e-4
    assert selection.beyond_edge(grid, 1e-4) is None                  # bracketed
    assert selection.beyond_edge([6.7e-4, 2e-3, 6e-3], 6.7e-4) == 2.2e-4  # two significant figures
    assert selection.beyond_edge([2e-4], 2e-4) is None                # one rate: no direction
    with pytest.raises(ValueError, match="not in the grid"):
        selection.beyond_edge(grid, 2e-4)


def _study(score, extend, grids):
    """Runs the selection with a fake trainer whose runs' score is ``score(lr)`` (lower wins)."""
    calls = []

    def train(jobs):
        calls.append(sorted(jobs))
        return {(g, lr): SimpleNamespace(score=score(g, lr)) for g, lr in jobs}

    def pick(runs):
        return min(runs, key=lambda lr: runs[lr].score)

    chosen, records = selection.bracketed_selection(grids, train, pick, extend)
    return chosen, records, calls


def test_a_grid_grows_until_the_pick_is_bracketed():
    best = {"gan": 1e-5, "ddpm": 1e-3}  # the GAN's best lies past the low edge; the DDPM's inside its grid
    chosen, records, calls = _study(lambda g, lr: abs(lr - best[g]), 2,
                                    {"gan": [1e-4, 3e-5, 3e-4], "ddpm": [3e-4, 1e-3, 3e-3]})
    assert chosen == {"gan": 1e-5, "ddpm": 1e-3}
    assert calls[1] == [("gan", 1e-5)]               # one round past the edge, only where the edge won
    assert calls[2] == [("gan", 3.3e-6)]             # 1e-5 won at the new edge: one more step, which loses
    assert len(calls) == 3 and ("gan", 3.3e-6) in records


def test_extension_stops_after_extend_rounds_and_with_extend_zero_the_grid_is_as_given():
    falling = lambda g, lr: lr  # noqa: E731  (the lower the better, without end)
    chosen, _, calls = _study(falling, 1, {"gan": [3e-5, 1e-4]})
    assert chosen == {"gan": 1e-5} and len(calls) == 2
    chosen, _, calls = _study(falling, 0, {"gan": [3e-5, 1e-4]})
    assert chosen == {"gan": 3e-5} and len(calls) == 1
    rising = lambda g, lr: -lr  # noqa: E731
    assert _study(rising, 1, {"gan": [3e-5, 1e-4]})[0] == {"gan": 3e-4}
    with pytest.raises(ValueError, match="extend"):
        _study(falling, -1, {"gan": [3e-5]})


def test_the_images_selection_table_marks_the_rates_added_past_an_edge():
    run = SimpleNamespace(rows=[{"fd_classifier": 5.0, "step": 10 * (e + 1)} for e in range(3)],
                          manifest={"status": "finished"}, params={"batch_size": 64})
    study = images.Study(selection={("gan", 2e-4): run, ("gan", 2.2e-5): run, ("ddpm", 5e-4): run},
                         chosen={"gan": 2.2e-5, "ddpm": 5e-4}, flops={"gan": 1.3e8, "ddpm": 5e7})
    rows = images.selection_rows(study, {"gan_lrs": [6.7e-5, 2e-4, 6e-4], "ddpm_lrs": [5e-4], "budget_pflop": 1e-3})
    assert [(r["model"], r["lr"], r["in the grid"], r["chosen"]) for r in rows] == [
        ("GAN", 2.2e-5, "added past the edge that won", "yes"), ("GAN", 2e-4, "yes", ""), ("DDPM", 5e-4, "yes", "yes")]
    # 30 steps of 64 examples: 0.25 of a 1 TFLOP budget at 130 MFLOP per example, 0.096 at 50
    assert [r["share of the budget"] for r in rows] == ["25%", "25%", "10%"]
