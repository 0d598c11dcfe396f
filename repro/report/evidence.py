"""Where a verdict's evidence is: a page of the book and the numbered figures and tables on it.

A page's notebook names its figures and tables (``repro.plotting.show(..., name=)``,
``repro.report.tables.captioned(..., name=)``); the book pipeline makes each name unique by its page
(``page:name``, :func:`repro.report.book_cells.page_name`), and MyST's ``{numref}`` writes it as "Table 3"
or "Fig. 2", linked to it. A name that is on no page of the book fails the build (``-W -n``), and
``tests/test_cross_references.py`` checks it against the stored pages first.
"""

from __future__ import annotations

from .book_cells import page_name

__all__ = ["numref", "evidence"]


def numref(page: str, name: str) -> str:
    """MyST's reference to the figure or table ``name`` of the book page ``results/<page>``."""
    return f"{{numref}}`{page_name(page, name)}`"


def evidence(page: str, *names: str, title: str | None = None) -> str:
    """The page ``results/<page>``, linked by its own title or by ``title`` (two pages of one notebook
    share a title), and, in brackets, its figures and tables ``names``: "Collapse on CIFAR-10 (JPEG q75)
    (Table 14, Fig. 8)"."""
    link = f"{{doc}}`{title} <results/{page}>`" if title else f"{{doc}}`results/{page}`"
    inside = ", ".join(numref(page, n) for n in names)
    return link + (f" ({inside})" if inside else "")
