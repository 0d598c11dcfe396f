"""Every decimal number in the book's hand-written prose can be traced to what the code generated.

A number such as "2.83" written into ``book/*.md`` must round from a value shown in a generated table
or output (the executed notebooks' outputs, the generated Markdown tables under ``book/results``),
from a run's evaluation or benchmark record, from the shipped classifiers' records, or appear as a
literal in the package's source (a setting such as LeakyReLU's 0.2, or a published number the code
holds with its citation). Per-epoch logs are left out on purpose: among thousands of values, some
would round to almost anything. A number typed from a run that no longer exists fails here.
Integers are not checked (sizes, counts, years and section numbers would drown the signal).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("intro", "background", "methods", "discussion", "reproducibility", "results")
DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.])")
NUMBER = re.compile(r"(?<![\w])-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return [repr(obj)] if isinstance(obj, (int, float)) else []


def generated_text() -> str:
    """What the code generated and the book shows or records, as one text."""
    parts = []
    for nb in (ROOT / "book" / "results").glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            for out in cell.get("outputs", []):
                parts += _strings({k: v for k, v in out.items() if k in ("text", "data", "metadata")})
    for pattern in ("book/results/**/*.md", "book/results/**/evaluation.json", "book/results/**/manifest.json",
                    "book/results/**/timings.json", "book/results/bench/*.json", "repro/weights/*.json",
                    "repro/**/*.py"):
        parts += [p.read_text() for p in ROOT.glob(pattern)]
    return "\n".join(parts)


def prose(markdown: str) -> str:
    """The page's text without math, code, directives and roles (whose numbers are not prose)."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$[^$\n]*\$", " ", markdown)
    markdown = re.sub(r"`[^`]*`", " ", markdown)
    return markdown


def untraced(page_text: str, values: set[float]) -> list[str]:
    """Decimal numbers of ``page_text`` that no generated value rounds to (at the page's precision)."""
    bad = []
    for m in DECIMAL.finditer(page_text):
        shown = m.group(0).replace(",", "")
        places = len(shown.split(".")[1])
        if not any(round(v, places) == float(shown) for v in values):
            bad.append(f"{m.group(0)} in ...{page_text[max(0, m.start() - 60):m.end() + 20]!r}".replace("\n", " "))
    return bad


@pytest.fixture(scope="module")
def values() -> set[float]:
    out = set()
    for token in NUMBER.findall(generated_text()):
        try:
            out.add(float(token.replace(",", "")))
        except ValueError:
            continue
    return out


@pytest.mark.parametrize("page", PAGES)
def test_every_decimal_in_the_prose_comes_from_a_generated_table_or_the_code(page, values):
    bad = untraced(prose((ROOT / "book" / f"{page}.md").read_text()), values)
    assert not bad, f"book/{page}.md quotes numbers found in no generated table or record:\n" + "\n".join(bad)


def test_the_check_catches_a_typed_number_and_reads_rounding():
    values = {2.8294527880738727, 0.7405}
    assert untraced("fell to 2.83, then 0.74", values) == []
    assert untraced("fell to 2.9", values) and untraced("D(x) 0.75", values)
    assert untraced(prose("math $x = 3.14$ and `code 2.71` are not prose"), set()) == []
