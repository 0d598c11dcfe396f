"""Where quality-against-compute curves cross: found in log compute, and no ordering read inside the noise."""

from __future__ import annotations

import math

import pytest

from repro.report.crossing import crossing, crossing_row, mean_curve


def _rows(model, pflop, values_by_seed):
    return [{"model": model, "seed": s, "epoch": e, "pflop": pflop[e], "fd_classifier": v}
            for s, values in enumerate(values_by_seed) for e, v in enumerate(values)]


def test_mean_curve_averages_seeds_over_the_epochs_all_reached():
    rows = _rows("gan", [0.1, 0.2, 0.4], [[10, 8, 6], [12, 10]])
    xs, means, sds = mean_curve(rows, "gan")
    assert xs == [0.1, 0.2] and means == [11, 9] and sds[0] == pytest.approx(math.sqrt(2))


def test_a_fast_starter_overtaken_later_gives_one_crossing_and_the_later_model_ahead():
    x = [0.01, 0.1, 1.0]
    gan = _rows("gan", x, [[20, 10, 8], [20.2, 10.2, 8.2]])       # fast, then flat
    ddpm = _rows("ddpm", x, [[100, 10, 2], [100.2, 10.2, 2.2]])   # slow, then better
    c = crossing(gan + ddpm)
    assert len(c["crossings"]) == 1 and c["crossings"][0] == pytest.approx(0.1, rel=1e-6)
    assert c["ahead_at_end"] == "ddpm" and c["gap_at_end"] == pytest.approx(6.0)


def test_no_ordering_is_read_inside_the_seeds_spread():
    x = [0.1, 1.0]
    c = crossing(_rows("gan", x, [[10, 5], [10, 9]]) + _rows("ddpm", x, [[12, 6], [12, 6]]))
    assert c["crossings"] == [] or c["ahead_at_end"] is None
    assert c["ahead_at_end"] is None   # gap 1.0 against a seed sd of 2.8


def test_curves_without_a_shared_compute_range_are_not_compared():
    c = crossing(_rows("gan", [0.1, 0.2], [[5, 4]]) + _rows("ddpm", [1.0, 2.0], [[5, 4]]))
    assert c["range"] is None and c["ahead_at_end"] is None


def test_the_table_row_says_no_crossing_in_words_and_dashes_what_was_not_compared():
    x = [0.01, 0.1, 1.0]
    apart = crossing(_rows("gan", x, [[20, 10, 8], [20, 10, 8]]) + _rows("ddpm", x, [[30, 20, 18], [30, 20, 18]]))
    row = crossing_row(apart)
    assert row["shared range"] == "0.01 to 1 PFLOP" and row["mean curves cross at"] == "no crossing"
    assert row["ahead at the end"] == "GAN" and row["FD gap GAN - DDPM at the end"] == pytest.approx(-10.0)
    crossed = crossing_row(crossing(_rows("gan", x, [[20, 10, 8]] * 2) + _rows("ddpm", x, [[100, 10, 2]] * 2)))
    assert crossed["mean curves cross at"] == "0.1 PFLOP" and crossed["ahead at the end"] == "DDPM"
    tied = crossing_row(crossing(_rows("gan", [0.1, 1.0], [[10, 5], [10, 9]]) + _rows("ddpm", [0.1, 1.0], [[12, 6]] * 2)))
    assert tied["ahead at the end"] == "neither (not separated)"
    apart_only = crossing_row(crossing(_rows("gan", [0.1, 0.2], [[5, 4]]) + _rows("ddpm", [1.0, 2.0], [[5, 4]])))
    assert [apart_only[k] for k in ("shared range", "mean curves cross at", "ahead at the end")] == ["—"] * 3


def test_a_blip_inside_the_noise_crosses_the_means_but_does_not_change_the_leader():
    """The GAN leads at both ends, beyond the noise; one epoch where the means swap gives two crossings
    of the means and the same separated leader at the start and the end; curves that only touch cross
    nowhere."""
    x = [0.1, 0.2, 0.3, 0.4]
    gan = _rows("gan", x, [[5.0, 5.0, 7.5, 4.0], [5.2, 5.2, 7.7, 4.2], [4.8, 4.8, 7.3, 3.8]])
    ddpm = _rows("ddpm", x, [[8.0, 8.0, 7.0, 8.0], [8.2, 8.2, 7.2, 8.2], [7.8, 7.8, 6.8, 7.8]])
    c = crossing(gan + ddpm)
    assert len(c["crossings"]) == 2 and c["ahead_at_start"] == c["ahead_at_end"] == "gan"
    touch = crossing(_rows("gan", x, [[5.0, 6.0, 8.0, 5.0]] * 2) + _rows("ddpm", x, [[8.0, 8.0, 8.0, 8.0]] * 2))
    assert touch["crossings"] == [] and touch["ahead_at_end"] == "gan"


def test_a_side_with_one_seed_is_ordered_by_the_other_sides_spread():
    x = [0.1, 1.0]
    one = _rows("ddpm", x, [[12.0, 9.0]])
    assert crossing(_rows("gan", x, [[10.0, 5.0], [10.0, 8.0]]) + one)["ahead_at_end"] is None  # 9 vs 6.5 ± 1.5 (n = 2)
    assert crossing(_rows("gan", x, [[10.0, 5.0], [10.0, 5.2]]) + one)["ahead_at_end"] == "gan"  # 9 vs 5.1 ± 0.1


def test_on_a_time_axis_epochs_without_a_time_are_left_out():
    """A seed stopped because it flattened is held at its last value on the compute axis only: its held
    epochs have no time, so the time axis compares the epochs every seed trained."""
    rows = _rows("gan", [0.1, 0.2, 0.4], [[10, 8, 6], [10.2, 8.2, 7]])
    for r in rows:
        r["hours"] = None if r["epoch"] == 2 and r["seed"] == 1 else 1.0 + r["epoch"]
    xs, means, _ = mean_curve(rows, "gan", x="hours")
    assert xs == [1.0, 2.0] and means == pytest.approx([10.1, 8.1])
    ddpm = _rows("ddpm", [0.1, 0.2, 0.4], [[20, 9, 3]] * 2)
    for r in ddpm:
        r["hours"] = 0.5 + 2 * r["epoch"]  # 0.5, 2.5, 4.5 hours
    row = crossing_row(crossing(rows + ddpm, x="hours"), "CPU hours", "h")
    # the GAN's time axis ends at 2 h (its third epoch lacks a seed's time): the shared range is 1 to 2 h
    assert row["axis"] == "CPU hours" and row["shared range"] == "1 to 2 h" and row["ahead at the start"] == "GAN"
