"""Tables for people: significant figures, units, N beside every FID, no index column, no NaN.

Numbers are never recomputed here, only written: :func:`sig` rounds for display, :func:`format_frame`
turns a DataFrame into strings a reader can scan, and :func:`use_book_tables` makes every DataFrame a
notebook displays go through it (the book pipeline calls it before executing a notebook).
:func:`tidy_dataframe_html` applies the two safe parts (missing values, a plain 0..n-1 index) to HTML
that pandas already wrote, so stored outputs read the same without being recomputed.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, Mapping

MISSING = "—"
RATE_COLUMNS = {"lr", "lr_G", "lr_D"}  # columns written as learning rates (:func:`rate`)

__all__ = ["MISSING", "RATE_COLUMNS", "FOLD_ROWS", "folded", "headline", "sig", "round_sig", "printed", "rate", "seed_list", "with_n", "with_interval", "mean_se", "mean_pm", "pm", "format_frame", "to_html", "tidy_dataframe_html",
           "use_book_tables", "to_markdown", "with_caption", "check_name", "Table", "captioned"]


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, NaT, pd.NA compare unequal to themselves
    except (TypeError, ValueError):
        return False


def sig(x: Any, digits: int = 3, missing: str = MISSING) -> str:
    """``x`` to ``digits`` significant figures without false precision: 228.999 -> "229", 20.0 -> "20",
    0.0194514 -> "0.0195", 0.82 -> "0.820", 1.82e-7 -> "1.8e-07", 299520 -> "299,520" (integers are kept whole)."""
    if _is_missing(x):
        return missing
    if isinstance(x, (bool, str)) or not isinstance(x, numbers.Real):
        return str(x)
    if isinstance(x, numbers.Integral) or (float(x).is_integer() and abs(x) >= 10 ** digits):
        return f"{int(x):,}"
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    exponent = math.floor(math.log10(abs(x)))
    if exponent < -4:
        return f"{x:.{max(digits - 2, 0)}e}"
    decimals = max(digits - 1 - exponent, 0)
    text = f"{x:,.{decimals}f}"
    if "." in text and float(text.replace(",", "")).is_integer():  # 20.000 -> 20; 0.820 keeps its zero
        text = text.rstrip("0").rstrip(".")
    return text


def round_sig(x: float, digits: int = 2) -> float:
    """``x`` rounded to ``digits`` significant figures, as a number: 132.4 -> 130.0, 2.233e-4 -> 2.2e-4."""
    return float(f"{x:.{digits}g}")


def printed(x: Any, missing: str = MISSING) -> str:
    """A published number as its paper prints it (4.73 stays "4.73", 13.36 "13.36"): no rounding, no padding."""
    return missing if _is_missing(x) else f"{x:,g}" if isinstance(x, numbers.Real) and not isinstance(x, bool) else str(x)


def rate(x: Any, missing: str = MISSING) -> str:
    """A learning rate as papers write it, two significant figures in powers of ten: 1e-4, 6.7e-5, 2e-3."""
    if _is_missing(x):
        return missing
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return sig(x)
    exponent = math.floor(math.log10(abs(x)))
    mantissa = round(x / 10 ** exponent, 1)
    if abs(mantissa) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:g}e{exponent}"


def seed_list(seeds: Any) -> str:
    """Seeds for a caption: a consecutive run as "0-4", others listed ("0, 1, 3")."""
    ss = sorted(int(s) for s in seeds)
    if len(ss) > 2 and ss == list(range(ss[0], ss[-1] + 1)):
        return f"{ss[0]}-{ss[-1]}"
    return ", ".join(map(str, ss))


def with_n(value: Any, n: Any, digits: int = 3) -> str:
    """A sample-size-dependent number (FID, KID) with its N beside it: "50.8 (N = 1,000)"."""
    if _is_missing(value):
        return MISSING
    return f"{sig(value, digits)} (N = {sig(n)})" if not _is_missing(n) else sig(value, digits)


def with_interval(row: Mapping[str, Any], key: str, digits: int = 3) -> str:
    """``row[key]`` with its interval ``row[key + "_lo"]``, ``row[key + "_hi"]`` where the row has one:
    "0.712 [0.684, 0.740]"; :data:`MISSING` where the value is."""
    if _is_missing(row.get(key)):
        return MISSING
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    bounds = "" if _is_missing(lo) or _is_missing(hi) else f" [{sig(lo, digits)}, {sig(hi, digits)}]"
    return sig(row[key], digits) + bounds


def mean_se(values: Any) -> tuple[float, float, int]:
    """Mean, standard error of the mean (NaN for one value) and count of the finite ``values`` (None skipped)."""
    values = [float(v) for v in values if not _is_missing(v) and math.isfinite(float(v))]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(values) / n
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n) if n > 1 else math.nan
    return mean, se, n


def mean_pm(values: Any, spread: str = "se") -> str:
    """Seeds' values as "mean ± spread": the standard error (``"se"``) or the standard deviation (``"sd"``);
    the mean alone for one value, :data:`MISSING` for none."""
    if spread not in ("se", "sd"):
        raise ValueError(f"spread must be 'se' or 'sd', got {spread!r}")
    mean, se, n = mean_se(values)
    if n == 0:
        return MISSING
    if n < 2:
        return sig(mean)
    return pm(mean, se * (math.sqrt(n) if spread == "sd" else 1))


def _half_up(v: float) -> int:
    """``v`` rounded half away from zero (Python's round() goes to even), after clearing float noise."""
    v = round(v, 9)
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def pm(mean: float, spread: float) -> str:
    """"mean ± spread" rounded together: the spread to one significant figure (two when it starts with
    a 1), the mean to the spread's last decimal place ("98.90 ± 0.09", "24.8 ± 0.2", "5.0 ± 1.0");
    a zero spread keeps the mean's three significant figures."""
    if not spread or not math.isfinite(spread):
        return f"{sig(mean)} ± {sig(spread) if math.isfinite(spread) else MISSING}"
    exponent = math.floor(math.log10(abs(spread)))
    leading = int(round(abs(spread) / 10 ** exponent, 9))  # the spread's first digit
    place = exponent - (1 if leading < 2 else 0)  # power of ten of the last digit shown
    decimals = max(-place, 0)
    step = 10.0 ** place
    mean_r, spread_r = _half_up(mean / step) * step, _half_up(spread / step) * step
    return f"{mean_r:,.{decimals}f} ± {spread_r:,.{decimals}f}"


def format_frame(df, digits: int = 3, units: Mapping[str, str] | None = None, missing: str = MISSING):
    """A copy of ``df`` as strings: numbers to ``digits`` significant figures, missing values as
    ``missing``, units in the column names ("wall time (s)"), and a meaningless 0..n-1 index dropped
    (a named or grouped index becomes ordinary columns, so no index column is left)."""
    import pandas as pd

    out = df.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" ".join(str(c) for c in col if str(c)) for col in out.columns]
    if isinstance(out.index, pd.RangeIndex) or (out.index.names == [None] and out.index.dtype.kind in "iu"):
        out = out.reset_index(drop=True)
    else:
        out = out.reset_index()
    for col in out.columns:
        show = rate if str(col).split(" ")[0] in RATE_COLUMNS else (lambda v, m: sig(v, digits, m))
        out[col] = [show(v, missing) if not isinstance(v, str) else v for v in out[col]]
    if units:
        out = out.rename(columns={c: f"{c} ({u})" for c, u in units.items() if c in out.columns})
    return out


def to_html(df, digits: int = 3, units: Mapping[str, str] | None = None) -> str:
    """HTML of :func:`format_frame` without an index column (what the book shows for a DataFrame)."""
    return format_frame(df, digits, units).to_html(index=False, border=0, classes="dataframe", escape=True)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: list[Mapping[str, Any]]) -> str:
    """Rows of display strings (formatted already) as a Markdown table: no index column, and the
    book renders Markdown links in the cells (e.g. to a run's record)."""
    if not rows:
        return ""
    columns = list(rows[0])
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, MISSING)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def with_caption(table: str, caption: str, name: str | None = None) -> str:
    """A Markdown table as a numbered, captioned table of the book (MyST's ``table`` directive), with
    ``name`` as its label for ``{numref}`` (a page's notebook names its tables; the book pipeline makes
    each name unique by its page, :func:`repro.report.book_cells.page_name`). The directive is fenced
    with colons: a backtick fence's opening line may hold no backtick (CommonMark), so a caption with a
    role such as a citation would turn it into a plain code block."""
    caption = " ".join(caption.split())
    label = f":name: {check_name(name)}\n" if name else ""
    return f":::{{table}} {caption}\n{label}\n{table.rstrip()}\n:::\n"


def check_name(name: str) -> str:
    """``name`` if it can label a figure or table (lower-case letters, digits, '-' and '_'), else a
    ValueError that says so."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise ValueError(f"figure or table name {name!r}: use lower-case letters, digits, '-' and '_'")
    return name


FOLD_ROWS = 10  # a captioned table with more rows is folded into a dropdown


def folded(table_md: str, title: str) -> str:
    """Markdown (a captioned table) folded into a dropdown that shows ``title`` until it is opened
    (sphinx-design's ``dropdown``; its fence is one colon longer than the table's)."""
    return f"::::{{dropdown}} {' '.join(title.split())}\n\n{table_md.rstrip()}\n::::\n"


def headline(caption: str) -> str:
    """A caption's first sentence: what a folded table shows of it."""
    first = re.split(r"(?<=[a-z0-9)])\. ", " ".join(caption.split()), maxsplit=1)[0]
    return first.rstrip(".")


class Table:
    """A finished table for a notebook to display: Markdown in the notebook and the book (links work,
    cells wrap to the page), plain text in a terminal. With ``caption`` the book shows it as a numbered
    table with that caption (MyST's ``table`` directive); one of more than :data:`FOLD_ROWS` rows is
    folded under its caption's first sentence and row count, so that a page shows the headline tables
    (each study's summary) and a click opens the long ones."""

    def __init__(self, rows: list[Mapping[str, Any]], empty: str = "(empty table)", caption: str | None = None,
                 name: str | None = None):
        self.rows = [dict(r) for r in rows]
        self.empty = empty  # what a reader sees instead of a table without rows
        self.caption = caption
        self.name = name and check_name(name)  # its label for {numref}, when captioned

    def _repr_markdown_(self) -> str:
        table = to_markdown(self.rows)
        if not table:
            return self.empty
        if not self.caption:
            return table
        shown = with_caption(table, self.caption, self.name)
        if len(self.rows) > FOLD_ROWS:
            shown = folded(shown, f"{headline(self.caption)} ({len(self.rows)} rows)")
        return shown

    def __repr__(self) -> str:
        text = self.empty
        if self.rows:
            import pandas as pd

            text = pd.DataFrame(self.rows).to_string(index=False)
        return f"{self.caption}\n{text}" if self.caption else text


def captioned(table: Any, caption: str, digits: int = 3, units: Mapping[str, str] | None = None,
              name: str | None = None) -> Table:
    """A DataFrame (or rows) for people, as :func:`format_frame` writes it, with its caption (and
    ``name``, its label): the table a notebook displays in the book (every table states its protocol and
    links its run record)."""
    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    shown = format_frame(frame, digits=digits, units=units) if len(frame) else frame
    return Table(shown.to_dict("records"), empty="(no rows)", caption=caption, name=name)


_NA_CELL = re.compile(r"<td>\s*(NaN|nan|None|&lt;NA&gt;|<NA>|NaT)\s*</td>")
_TABLE = re.compile(r"<table.*?</table>", re.S)
_ROW_HEADER = re.compile(r"(<tr[^>]*>)\s*<th>(\d+)</th>")


def tidy_dataframe_html(html: str, missing: str = MISSING) -> str:
    """Stored pandas HTML made readable without recomputing anything: missing values shown as
    ``missing`` and a plain 0..n-1 row index (the column pandas adds) removed. Other tables and
    grouped indices (e.g. mixture, model) are left as they are."""
    def one(match: re.Match) -> str:
        table = _NA_CELL.sub(f"<td>{missing}</td>", match.group(0))
        head, sep, body = table.partition("<tbody>")
        if not sep:
            return table
        labels = _ROW_HEADER.findall(body)
        n_rows = body.count("<tr")
        if not labels or len(labels) != n_rows or [int(i) for _, i in labels] != list(range(n_rows)):
            return table
        if head.count("<tr") != 1:  # a second header row names the index; leave such tables alone
            return table
        body = _ROW_HEADER.sub(r"\1", body)
        head = re.sub(r"(<tr[^>]*>)\s*<th>\s*</th>", r"\1", head, count=1)
        return head + sep + body
    return _TABLE.sub(one, html)


def use_book_tables(digits: int = 3) -> None:
    """Display every pandas DataFrame in the running IPython kernel through :func:`to_html`."""
    from IPython import get_ipython
    import pandas as pd

    ip = get_ipython()
    if ip is not None:
        ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, lambda df: to_html(df, digits))
