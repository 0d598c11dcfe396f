"""Tables for people: significant figures, N beside FID, no index column, no NaN."""

import math

import pandas as pd
import pytest

from repro.report.tables import MISSING, format_frame, printed, rate, seed_list, sig, tidy_dataframe_html, to_html, with_n


@pytest.mark.parametrize("x, text", [(228.999, "229"), (20.0, "20"), (0.0194514, "0.0195"), (2.8294, "2.83"),
                                     (299520, "299,520"), (299520.0, "299,520"), (1.82e-7, "1.8e-07"), (0, "0"),
                                     (0.82, "0.820"), (float("nan"), MISSING), (None, MISSING), ("ddim-eta0", "ddim-eta0")])
def test_sig_rounds_to_significant_figures_without_false_precision(x, text):
    assert sig(x) == text


def test_with_n_puts_the_sample_size_beside_the_number():
    assert with_n(50.770896, 1000) == "50.8 (N = 1,000)"
    assert with_n(math.nan, 500) == MISSING


def test_format_frame_has_no_index_column_no_nan_and_units_in_headers():
    df = pd.DataFrame({"model": ["DCGAN", "DDPM"], "fid": [50.77, float("nan")], "wall": [515.2, 584.0]})
    out = format_frame(df, units={"wall": "s"})
    assert list(out.columns) == ["model", "fid", "wall (s)"]
    assert out["fid"].tolist() == ["50.8", MISSING]
    html = to_html(df)
    assert "NaN" not in html and "<th></th>" not in html


def test_format_frame_keeps_a_grouped_index_as_columns():
    df = pd.DataFrame({"mixture": ["ring8", "ring8"], "model": ["gan", "ddpm"], "modes": [0.333, 8.0]})
    out = format_frame(df.groupby(["mixture", "model"]).mean())
    assert list(out.columns) == ["mixture", "model", "modes"]


def test_tidy_dataframe_html_drops_the_range_index_and_shows_missing_values():
    html = pd.DataFrame({"epoch": [0, 1], "fd": [float("nan"), 2.83]}).to_html()
    tidy = tidy_dataframe_html(html)
    assert "NaN" not in tidy and MISSING in tidy
    assert "<th>0</th>" not in tidy and "<th></th>" not in tidy
    assert tidy.count("<th>") == 2  # the two column headers only


def test_tidy_dataframe_html_leaves_named_indices_alone():
    html = pd.DataFrame({"fd": [1.0]}, index=pd.Index(["ring8"], name="mixture")).to_html()
    assert tidy_dataframe_html(html) == html


def test_markdown_table_has_no_index_column_and_escapes_pipes():
    from repro.report.tables import Table, to_markdown

    md = to_markdown([{"model": "a|b", "FID": "50.8 (N = 1,000)"}, {"model": "c", "FID": MISSING}])
    lines = md.splitlines()
    assert lines[0] == "| model | FID |" and lines[1] == "| --- | --- |"
    assert lines[2] == "| a\\|b | 50.8 (N = 1,000) |" and lines[3] == f"| c | {MISSING} |"
    table = Table([{"model": "a", "FID": "20"}])
    assert table._repr_markdown_() == to_markdown(table.rows) and "model" in repr(table)
    assert to_markdown([]) == "" and repr(Table([])) == "(empty table)"


@pytest.mark.parametrize("x, text", [(3e-5, "3e-5"), (1e-4, "1e-4"), (0.00067, "6.7e-4"), (2e-3, "2e-3"),
                                     (9.96e-5, "1e-4"), (None, MISSING)])
def test_rate_writes_learning_rates_as_papers_do(x, text):
    assert rate(x) == text


def test_format_frame_writes_learning_rate_columns_as_rates():
    out = format_frame(pd.DataFrame({"lr": [3e-5, 1e-4], "lr_D (x lr_G)": [4.0, 1.0], "fd": [0.82, 0.664]}))
    assert out["lr"].tolist() == ["3e-5", "1e-4"] and out["fd"].tolist() == ["0.820", "0.664"]


def test_seed_list_folds_a_consecutive_run():
    assert seed_list([2, 0, 1, 3, 4]) == "0-4" and seed_list([0, 1]) == "0, 1" and seed_list([0, 1, 3]) == "0, 1, 3"


def test_published_numbers_are_shown_as_printed():
    assert printed(4.73) == "4.73" and printed(13.36) == "13.36" and printed(50000) == "50,000" and printed(None) == MISSING


def test_a_named_table_carries_its_label_for_numref_and_a_bad_name_is_refused():
    from repro.report.tables import Table, with_caption

    shown = with_caption("| a |\n| --- |\n| 1 |\n", "FD, N = 1,000", name="summary")
    assert shown.startswith(":::{table} FD, N = 1,000\n:name: summary\n\n| a |")
    assert ":name:" not in with_caption("| a |\n| --- |\n| 1 |\n", "FD")
    with pytest.raises(ValueError, match="lower-case letters"):
        Table([{"a": 1}], caption="FD", name="Summary table")
