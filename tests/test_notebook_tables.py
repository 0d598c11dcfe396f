"""Every table a notebook displays is captioned: its stored outputs show tables only as MyST ``table``
directives with a caption (``repro.report.tables.captioned`` / ``Table(caption=...)``), which the book
renders as numbered tables with ``<caption>``. Executed copies in the book inherit this when re-run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from repro.report.tables import Table, captioned

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
CAPTIONED = re.compile(r"^:::\{table\} \S.*\n\n\|", re.S)


def table_outputs(path: Path) -> list[tuple[int, str]]:
    """(cell index, kind) of every output that shows a table, kind "captioned" or what it is instead."""
    found = []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            md = re.sub(r"^::::\{dropdown\}[^\n]*\n\n", "", "".join(data.get("text/markdown", "")).lstrip())
            html = "".join(data.get("text/html", ""))
            if "<table" in html:
                found.append((i, "an HTML table (a DataFrame shown as it is)"))
            elif md.lstrip().startswith((":::{table}", "```{table}")):
                found.append((i, "captioned" if CAPTIONED.match(md.lstrip()) else "a table directive without rows"))
            elif re.search(r"^\|.*\|\s*$", md, re.M):
                found.append((i, "a Markdown table without a caption"))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_table_a_notebook_shows_is_captioned(path):
    bad = [f"cell {i}: {kind}" for i, kind in table_outputs(path) if kind != "captioned"]
    assert not bad, f"{path.name} shows tables without a caption: {bad}"


def test_captioned_tables_render_as_a_table_directive_with_formatted_numbers():
    md = captioned([{"model": "GAN", "FID": 50.8123, "n": 1000}], "FID of the DCGAN. Data: x")._repr_markdown_()
    assert md.startswith(":::{table} FID of the DCGAN. Data: x\n\n| model | FID | n |")
    assert "| GAN | 50.8 | 1,000 |" in md and md.rstrip().endswith(":::")
    assert Table([{"a": 1}])._repr_markdown_().startswith("| a |")  # no caption: a plain table


def test_a_caption_with_a_citation_still_opens_a_table_directive():
    """MyST reads a directive from a fence's opening line; with a backtick fence, a role's backticks in
    the caption make it an ordinary paragraph and the table loses its caption."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin

    md = captioned([{"S": 10, "FID": 13.36}], "{cite:t}`song2021ddim`, Table 1: FID as printed")._repr_markdown_()
    fences = [t for t in MarkdownIt("commonmark").enable("table").use(colon_fence_plugin).parse(md)
              if t.type in ("fence", "colon_fence")]
    assert [(t.info.split()[0], t.content.lstrip().startswith("| S |")) for t in fences] == [("{table}", True)]


def test_a_long_table_is_folded_under_its_captions_first_sentence_and_a_short_one_is_not():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin

    from repro.report.tables import FOLD_ROWS

    caption = "Every run: modes hit at the last epoch. Data: ring8_r1; N = 2,500 samples."
    long_md = captioned([{"seed": k} for k in range(FOLD_ROWS + 1)], caption)._repr_markdown_()
    tokens = MarkdownIt("commonmark").enable("table").use(colon_fence_plugin).parse(long_md)
    outer = [t for t in tokens if t.type == "colon_fence"]
    assert [t.info for t in outer] == [f"{{dropdown}} Every run: modes hit at the last epoch ({FOLD_ROWS + 1} rows)"]
    assert outer[0].content.lstrip().startswith(":::{table} Every run: modes hit at the last epoch. Data: ring8_r1;")
    short_md = captioned([{"seed": k} for k in range(FOLD_ROWS)], caption)._repr_markdown_()
    assert short_md.startswith(":::{table} Every run")
