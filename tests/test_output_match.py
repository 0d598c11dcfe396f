"""Stored notebook outputs compared with a tolerance on their numbers (repro.report.output_match)."""

from __future__ import annotations

import nbformat
import pytest

from repro.report.output_match import reconcile_outputs, same_text

ROW = "| GAN | spent | 75.8 | — |\n| DDPM | 1,905 | 0.541 | 2.2e-4 |"


@pytest.mark.parametrize("test, same", [
    (ROW, True),
    ("| GAN | spent | 74.9 | — |\n| DDPM | 1,905 | 0.542 | 2.2e-4 |", True),  # AVX2 against AVX-512
    ("| GAN | spent | 70.1 | — |\n| DDPM | 1,905 | 0.541 | 2.2e-4 |", False),  # moved 7.5%
    ("| GAN | spent | 75.8 | — |\n| DDPM | 1,905 | -0.541 | 2.2e-4 |", False),  # sign
    ("| GAN | used | 75.8 | — |\n| DDPM | 1,905 | 0.541 | 2.2e-4 |", False),  # a label
    ("| GAN | spent | 75.8 | nan |\n| DDPM | 1,905 | 0.541 | 2.2e-4 |", False),  # a missing value shown
    ("| GAN | spent | 75.8 | — |\n| DDPM | 1,905 | 0.541 | 2.2e-4 | 3 |", False),  # a column more
    ("| GAN | spent | 75.8 | — |\n| DDPM | 1,905 | 0.541 | 2.2e-3 |", False),  # an exponent
])
def test_texts_match_when_only_numbers_moved_within_the_tolerance(test, same):
    assert same_text(ROW, test) is same


def test_numbers_near_zero_match_within_the_absolute_tolerance():
    assert same_text("KID 0.0002", "KID 0.0009")
    assert not same_text("KID 0.0002", "KID 0.0020")


def test_reconciled_outputs_take_the_stored_text_only_where_it_matches():
    ref = [nbformat.from_dict({"output_type": "display_data", "data": {"text/markdown": "loss 0.541",
                                                                        "image/png": "AAAA"}, "metadata": {}}),
           nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "epochs 2\n"})]
    test = [nbformat.from_dict({"output_type": "display_data", "data": {"text/markdown": "loss 0.542",
                                                                         "image/png": "BBBB"}, "metadata": {}}),
            nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "epochs 3\n"}),
            nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "extra\n"})]
    out = reconcile_outputs(ref, test)
    assert out[0]["data"]["text/markdown"] == "loss 0.541"  # within 5%: the stored text
    assert out[0]["data"]["image/png"] == "BBBB"  # not numbers: left as computed
    assert out[1]["text"] == "epochs 3\n"  # 2 -> 3 is 33%: left, so the comparison fails
    assert len(out) == 3 and out[2]["text"] == "extra\n"  # an output more is still there to fail on
    # the sanitiser runs first: a temporary folder in the text does not hide a matching number
    clean = lambda s: s.replace("scratch-abc9", "TMP").replace("scratch-xyz1", "TMP")  # noqa: E731
    assert reconcile_outputs(["scratch-abc9 loss 0.541"], ["scratch-xyz1 loss 0.542"], clean) == ["scratch-abc9 loss 0.541"]
