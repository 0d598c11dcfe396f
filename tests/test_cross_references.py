"""Every figure or table the book cites by number (``{numref}``, e.g. in the claims table) is named on
a page of the book, and no two figures or tables share a name.

Names live in the stored executed pages (``book/results/<page>.ipynb``): a figure's in its cell's
``mystnb.figure.name``, a table's as the ``:name:`` of its ``table`` directive in a Markdown output,
each as ``page:name`` (:func:`repro.report.book_cells.page_name`). The book's build fails on an unknown
label too (``-W -n``); this check names the missing label in seconds, without a build.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from repro.report.evidence import evidence, numref

ROOT = Path(__file__).resolve().parents[1]
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?([^`>]+)>?`")
TABLE_NAME = re.compile(r"^:name: (\S+)$", re.M)


def toc_pages() -> list[Path]:
    """The stored notebooks that are pages of the book (``_toc.yml``)."""
    files = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def names_on(page: Path) -> list[str]:
    """The names of the figures and tables of one stored page."""
    names = []
    for cell in json.loads(page.read_text())["cells"]:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if figure.get("name"):
            names.append(figure["name"])
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown", "")
            names += TABLE_NAME.findall(md if isinstance(md, str) else "".join(md))
    return names


def cited() -> dict[str, list[Path]]:
    """Each label cited with ``{numref}`` in the book's Markdown, and the files that cite it."""
    out: dict[str, list[Path]] = {}
    for md in sorted((ROOT / "book").rglob("*.md")):
        if "runs" in md.relative_to(ROOT / "book").parts:
            continue
        for label in NUMREF.findall(md.read_text()):
            out.setdefault(label, []).append(md.relative_to(ROOT))
    return out


def test_every_cited_figure_and_table_is_named_on_a_page_of_the_book():
    named = {n for page in toc_pages() for n in names_on(page)}
    missing = {label: files for label, files in cited().items() if label not in named}
    assert not missing, (f"cited with {{numref}} but named on no page of the table of contents: {missing}; execute the "
                         "page again (python -m repro.report run) so that its figures and tables carry their names")


def test_the_claims_table_cites_figures_and_tables_by_number():
    claims = (ROOT / "book" / "results" / "claims.md").read_text()
    assert len(NUMREF.findall(claims)) >= 5


def test_no_two_figures_or_tables_of_the_book_share_a_name():
    counts = Counter(n for page in toc_pages() for n in names_on(page))
    assert not [n for n, k in counts.items() if k > 1]
    assert all(":" in n for n in counts), "every name carries its page (prepare the page for the book again)"


def test_cite_names_the_page_and_each_figure_or_table_on_it():
    assert numref("collapse", "summary") == "{numref}`collapse:summary`"
    assert evidence("collapse", "summary", "curves") == \
        "{doc}`results/collapse` ({numref}`collapse:summary`, {numref}`collapse:curves`)"
    assert evidence("compare") == "{doc}`results/compare`"
    assert evidence("collapse", "curves", title="Collapse on Fashion-MNIST") == \
        "{doc}`Collapse on Fashion-MNIST <results/collapse>` ({numref}`collapse:curves`)"


@pytest.mark.parametrize("text, label", [("{numref}`toy_modes:pacgan`", "toy_modes:pacgan"),
                                         ("{numref}`Table %s of the study <images:crossing>`", "images:crossing")])
def test_the_check_reads_both_forms_of_numref(text, label):
    assert NUMREF.findall(text) == [label]


# Verdicts whose evidence is on a page executed before figures and tables had names, and why it has not
# been executed again; every other verdict must cite a table or figure by number.
UNNUMBERED = {"GANs sample faster": "the sample_ddim page is re-executed on the DDPM of the images study, which "
                                    "is still training (its preview models' checkpoints are not kept in the book)"}


def test_every_verdict_cites_a_table_or_figure_by_number():
    """Every judged verdict of the claims table cites its tables and figures ("Table 10", "Fig. 2")."""
    from repro.report.claims import claims_rows

    rows = claims_rows(ROOT / "book" / "results")
    judged = [r for r in rows if "not yet tested" not in r["verdict"]]
    assert judged
    bare = [r["claim"] for r in judged if not NUMREF.search(r["where"]) and r["claim"] not in UNNUMBERED]
    assert not bare, f"verdicts citing no table or figure by number: {bare}"
    stale = [c for c in UNNUMBERED if any(r["claim"] == c and NUMREF.search(r["where"]) for r in rows)]
    assert not stale, f"cited by number now: remove {stale} from UNNUMBERED"
