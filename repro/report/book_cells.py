"""Turn an executed notebook into a book page: code one click away, outputs a reader can use.

:func:`prepare_for_book` is the last step of ``python -m repro.report run``. On the executed copy it

- tags every code cell ``hide-input`` (Jupyter Book shows a "show code" button instead of the code);
- drops stderr streams (warnings are for the person running the notebook; what they say belongs in
  the prose, e.g. "FID at N < 2,048 is biased upwards");
- replaces the checkout's absolute path in text outputs with a path relative to it, and re-bases
  relative links in Markdown outputs (a table's links to run records) onto the executed copy's folder;
- moves a figure caption that a plotting cell attached to its image (``repro.plotting.show``) into
  the cell metadata that myst-nb turns into ``<figcaption>`` (``mystnb.figure.caption``), and tags a
  figure wider than the text column ``full-width``;
- makes the names of figures and tables (their labels for ``{numref}``) unique in the book by
  prefixing the page: ``summary`` on the page ``collapse`` becomes ``collapse:summary``
  (:func:`page_name`);
- rewrites stored DataFrame HTML with :func:`repro.report.tables.tidy_dataframe_html` (no NaN, no
  0..n-1 index column).

Nothing else changes: no number in an output is recomputed or rewritten.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .tables import tidy_dataframe_html

__all__ = ["prepare_for_book", "prepare_file", "scrub_temporary_folders", "set_caption", "page_name"]

HIDE = "hide-input"
WIDE = "full-width"  # the theme widens such a cell's output into the page margin
KEEP_VISIBLE = {"remove-cell", "remove-input", "hide-cell", HIDE}


def set_caption(cell: Mapping[str, Any], caption: str, name: str | None = None) -> None:
    """Give a code cell's figure(s) a caption (myst-nb's ``mystnb.figure`` metadata)."""
    figure = cell["metadata"].setdefault("mystnb", {}).setdefault("figure", {})
    figure["caption"] = caption
    if name:
        figure["name"] = name


def page_name(page: str | None, name: str) -> str:
    """A figure's or table's name as the book knows it: ``page:name``. A name that already holds a
    page (a copy prepared twice) is kept, and so is every name when the page is not known."""
    return name if page is None or ":" in name else f"{page}:{name}"


_TABLE_NAME = re.compile(r"^:name: (\S+)$", re.M)  # the label of a ``table`` directive (tables.with_caption)


def _scrub(text: str, root: str | None) -> str:
    return text.replace(root.rstrip("/") + "/", "").replace(root.rstrip("/"), ".") if root else text


def _rebase_links(caption: str, cwd: Path | None, out_dir: Path | None, existing_only: bool = False) -> str:
    """Relative link targets in a caption, written from the kernel's working directory ``cwd``,
    rewritten relative to the folder of the executed copy ``out_dir``. With ``existing_only`` a target
    that is not a file or folder under ``cwd`` is left alone (so preparing a copy twice is harmless)."""
    if cwd is None or out_dir is None:
        return caption

    def one(m: re.Match) -> str:
        text, target = m.group(1), m.group(2)
        if "://" in target or target.startswith(("/", "#")) or (existing_only and not (Path(cwd) / target).exists()):
            return m.group(0)
        new = os.path.relpath(Path(cwd) / target, out_dir)
        return f"[{new if text == target else text}]({new})"  # a link that shows its target shows the new one
    return re.sub(r"\[([^\]]*)\]\(([^)]+)\)", one, caption)


def _node(d: dict, like: Any) -> Any:
    """``d`` as the kind of mapping ``like`` is (nbformat's NotebookNode inside a notebook)."""
    if type(like) is dict:
        return d
    import nbformat

    return nbformat.from_dict(d)


def _one_figure_per_cell(cell: dict, outputs: list[dict]) -> list[dict]:
    """myst-nb gives every displayed output of a cell (not its printed text) the cell's one figure
    caption, so a table shown beside a figure would become a captioned "figure" too. A cell keeps its
    outputs up to the first displayed output that would share a caption with another; from there, each
    captioned figure and each run of other displayed outputs moves to an output-only cell of its own
    (the figure's with its caption). Returns the new cells."""
    def rich(out: dict) -> bool:
        return out.get("output_type") in ("display_data", "execute_result")

    def captioned(out: dict) -> bool:
        return "repro-caption" in out.get("metadata", {})

    groups: list[list[dict]] = [[]]
    for out in outputs:
        shown = [o for o in groups[-1] if rich(o)]
        if rich(out) and shown and (captioned(out) or any(captioned(o) for o in shown)):
            groups.append([])
        groups[-1].append(out)
    extra = []
    for k, group in enumerate(groups):
        # myst-nb drops a code cell without source: the split cell says where its outputs came from
        target = cell if k == 0 else _node({"cell_type": "code", "execution_count": None,
                                            "source": "# drawn by the cell above",
                                            "id": f"{cell.get('id', 'cell')}-out{k}", "outputs": [],
                                            "metadata": {"tags": ["remove-input"]}}, like=cell)
        target["outputs"] = group
        for out in group:
            caption = out.get("metadata", {}).pop("repro-caption", None)
            name = out.get("metadata", {}).pop("repro-name", None)
            if caption:
                set_caption(target, caption, name)
            if out.get("metadata", {}).pop("repro-wide", False):
                tags = target["metadata"].setdefault("tags", [])
                tags += [WIDE] * (WIDE not in tags)
        if k:
            extra.append(target)
    return extra


def prepare_for_book(nb: Any, root: str | Path | None = None, cwd: str | Path | None = None,
                     out_dir: str | Path | None = None, source: str | None = None, page: str | None = None) -> Any:
    """Prepare an executed notebook (``nbformat`` node, changed in place and returned) for the book.
    ``cwd`` (where the kernel ran) and ``out_dir`` (where the copy is stored) re-base caption links;
    ``source`` (the notebook's path in the checkout) replaces the copy of the whole input notebook that
    papermill records as its input when it is handed a notebook rather than a file; ``page`` (the
    copy's name in the book) prefixes the names of its figures and tables."""
    root = str(root) if root else None
    cwd, out_dir = cwd and Path(cwd), out_dir and Path(out_dir)
    cells = []
    for cell in nb["cells"]:
        cells.append(cell)
        if cell["cell_type"] != "code":
            continue
        tags = cell["metadata"].setdefault("tags", [])
        if not KEEP_VISIBLE.intersection(tags):
            tags.append(HIDE)
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                if out.get("name") == "stderr":
                    continue
                out["text"] = _scrub(out["text"] if isinstance(out["text"], str) else "".join(out["text"]), root)
            data = out.get("data", {})
            for mime in ("text/plain", "text/markdown"):
                if mime in data:
                    text = data[mime] if isinstance(data[mime], str) else "".join(data[mime])
                    data[mime] = _scrub(text, root)
            if "text/markdown" in data:  # links in a Markdown table (e.g. to a run's record), as in captions
                md = _rebase_links(data["text/markdown"], cwd, out_dir, existing_only=True)
                data["text/markdown"] = _TABLE_NAME.sub(lambda m: f":name: {page_name(page, m.group(1))}", md)
            if "text/html" in data:
                html = data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
                data["text/html"] = tidy_dataframe_html(_scrub(html, root))
            caption = out.get("metadata", {}).get("image/png", {}).pop("caption", None)
            if caption and "image/png" in data:
                out.setdefault("metadata", {})["repro-caption"] = _rebase_links(caption, cwd, out_dir)
            name = out.get("metadata", {}).get("image/png", {}).pop("name", None)
            if name and "image/png" in data:
                out["metadata"]["repro-name"] = page_name(page, name)
            if out.get("metadata", {}).get("image/png", {}).pop("wide", False) and "image/png" in data:
                out["metadata"]["repro-wide"] = True
            outputs.append(out)
        cells.extend(_one_figure_per_cell(cell, outputs))
    nb["cells"] = cells
    run = nb.get("metadata", {}).get("papermill", {})
    if "input_path" in run and not isinstance(run["input_path"], str):
        run["input_path"] = source
    for key in ("input_path", "output_path"):  # papermill records absolute paths of the machine
        if isinstance(run.get(key), str) and os.path.isabs(run[key]):
            run[key] = _relative(run[key], root)
    return nb


def _relative(path: str, root: str | None) -> str:
    """``path`` relative to the checkout ``root`` when inside it, else the file's name alone."""
    if root and Path(path).is_relative_to(root):
        return os.path.relpath(path, root)
    return Path(path).name


def scrub_temporary_folders(nb: Any) -> Any:
    """Write each temporary folder named in a text output (a smoke run's folder, e.g.
    ``<temporary folder>/toy_modes-smoke-x1y2/run``) as ``TMPDIR/run``, as the notebooks' nbval sanitiser does, so that
    stored outputs name no folder of the machine they were made on. Changed in place and returned."""
    folder = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[A-Za-z0-9_.-]+")

    def scrub(value: Any) -> Any:  # text, and the strings of metadata such as a figure's caption
        if isinstance(value, str):
            return folder.sub("TMPDIR", value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return folder.sub("TMPDIR", "".join(value))
        if isinstance(value, Mapping):
            for key in value:
                value[key] = scrub(value[key])
        return value

    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub(out["text"])
            for mime in out.get("data", {}):
                if mime.startswith("text/"):
                    out["data"][mime] = scrub(out["data"][mime])
            scrub(out.get("metadata", {}))
    return nb


def prepare_file(path: str | Path, root: str | Path | None = None, cwd: str | Path | None = None,
                 source: str | None = None) -> None:
    """:func:`prepare_for_book` on a stored notebook file, rewritten atomically; the file's name (without
    ``.ipynb``) is its page."""
    import nbformat

    from ..io import atomic_write

    nb = nbformat.read(str(path), as_version=4)
    prepare_for_book(nb, root, cwd=cwd, out_dir=Path(path).resolve().parent, source=source, page=Path(path).stem)
    atomic_write(Path(path), nbformat.writes(nb) + "\n")
