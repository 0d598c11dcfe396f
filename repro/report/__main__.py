"""Execute the report's notebooks.

``python -m repro.report store [NOTEBOOK ...]``
    Re-execute notebooks in place under the ``smoke`` profile, refreshing the outputs that
    ``pytest --nbval`` compares against. The kernel runs with torch's own thread count, as the tests do
    (``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` are dropped): some smoke outputs depend on it.

``python -m repro.report summary --out book/results``
    Rewrite ``OUT/summary.md``, ``OUT/methods.md`` (the settings of every run, from the manifests) and
    ``OUT/claims.md`` (the claims table, assessed from the run records).

``python -m repro.report run --profile cpu --out book/results [NOTEBOOK ...] [--set NAME=VALUE ...] [--as PAGE]``
    Execute notebooks with papermill under a profile (``--set`` passes a parameter, its value read as
    YAML, e.g. ``--set train=false``, to the notebooks that take it), each into ``OUT/<name>.ipynb``, their runs into
    ``OUT/runs/<name>`` (``--as PAGE``, with one notebook: into ``OUT/PAGE.ipynb`` and ``OUT/runs/PAGE``, a second
    study of that notebook beside the first, e.g. on other data), record every notebook's wall time in ``OUT/timings.json`` and write
    ``OUT/summary.md`` (wall times and one row per run manifest) for the reproducibility chapter.
    DataFrames are displayed through ``repro.report.tables`` (significant figures, no index column,
    no NaN), and each executed copy is prepared for the book by ``repro.report.book_cells`` (code
    hidden one click away, no stderr, no absolute paths, figure captions in the cell metadata).

``python -m repro.report tidy NOTEBOOK.ipynb ...``
    Apply the book preparation alone to stored executed copies (changes metadata and drops stderr;
    no number is recomputed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from ..io import atomic_write, atomic_write_json
from ..records import environment_info, git_info, utc_now
from .book_cells import prepare_file, scrub_temporary_folders
from .params import PROFILES
from .claims import claims_markdown
from .methods import settings_markdown
from .summary import summary_markdown

ORDER = ["toy_modes", "train_gan", "collapse", "train_ddpm", "images", "sample_ddim", "guidance", "compare"]
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
# Run first, hidden from the book: every DataFrame the notebook displays goes through repro.report.tables.
BOOK_TABLES = "from repro.report.tables import use_book_tables\nuse_book_tables()"


def write_summaries(out: Path) -> None:
    """``summary.md`` (wall times, run folders), ``methods.md`` (every run's settings) and ``claims.md``
    (the claims table) of a results folder."""
    atomic_write(out / "summary.md", summary_markdown(out))
    atomic_write(out / "methods.md", settings_markdown(out))
    atomic_write(out / "claims.md", claims_markdown(out))


def _names(given: list[str]) -> list[str]:
    names = given or [n for n in ORDER if (NOTEBOOKS / f"{n}.ipynb").exists()]
    unknown = [n for n in names if not (NOTEBOOKS / f"{n}.ipynb").exists()]
    if unknown:
        sys.exit(f"no such notebook: {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    return names


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def store(names: list[str], timeout: int) -> None:
    import nbclient
    import nbformat

    os.environ["REPRO_PROFILE"] = "smoke"
    for var in THREAD_VARIABLES:  # the kernel runs as `pytest --nbval` does: torch's own thread count
        if os.environ.pop(var, None) is not None:
            print(f"store: {var} ignored (some smoke outputs depend on the thread count)")
    for name in names:
        path = NOTEBOOKS / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        atomic_write(path, nbformat.writes(scrub_temporary_folders(nb)) + "\n")
        print(f"{name}: stored smoke outputs ({time.perf_counter() - t0:.0f} s)")


def _settings(pairs: list[str]) -> dict:
    """``NAME=VALUE`` pairs as notebook parameters, each value read as YAML (``false``, ``3``, ``[1, 2]``)."""
    import yaml

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            sys.exit(f"--set {pair!r}: expected NAME=VALUE, e.g. --set train=false")
        out[name] = yaml.safe_load(value)
    return out


def _check_settings(names: list[str], settings: dict) -> None:
    """Every ``--set`` parameter is taken by at least one of the notebooks named."""
    unused = [k for k in settings if not any(k in _taken(n, {k: None}) for n in names)]
    if unused:
        sys.exit(f"--set {', '.join(unused)}: no notebook of {', '.join(names)} takes it")


def _taken(name: str, settings: dict) -> dict:
    """The ``--set`` parameters that notebook ``name`` declares (the others are for other notebooks)."""
    from .params import load_profiles

    declared = next(iter(load_profiles().get(name, {}).values()), {})  # every profile lists every parameter
    return {k: v for k, v in settings.items() if k in declared}


def run(names: list[str], profile: str, out: Path, timeout: int | None, settings: dict | None = None,
        page: str | None = None) -> None:
    """Execute each notebook of ``names`` under ``profile`` into ``out`` (see the module docstring); ``page``
    names the executed copy and the runs' folder of a lone notebook instead of its own name."""
    import nbformat
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {"notebooks": {}}
    provenance = {"git": git_info(), **environment_info()}  # one checkout and machine for the whole call
    if page is not None and len(names) != 1:
        sys.exit(f"--as {page}: names the page of one notebook, but {len(names)} were given ({', '.join(names)})")
    if page is not None and (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", page) or page in set(ORDER) - {names[0]}):
        sys.exit(f"--as {page!r}: a page name is letters, digits, '-' and '_', and not another notebook's "
                 f"({', '.join(ORDER)}), e.g. --as {names[0]}-cifar10")
    for name in names:
        t0 = time.perf_counter()
        start = utc_now()
        runs = out.resolve() / "runs"
        rel = Path(os.path.relpath(runs, NOTEBOOKS))  # the notebooks run in notebooks/; keeps paths in the book short
        parameters = {"profile": profile, **_taken(name, settings or {})}
        name, notebook = page or name, name
        if notebook != "compare":
            parameters["out_dir"] = str(rel / name)
        if _taken(notebook, {"resume": True}) and (runs / name / "manifest.json").exists():
            parameters["resume"] = True  # a killed run continues; a finished one is shown as it is
        if notebook in ("sample_ddim", "compare", "guidance"):
            parameters["runs_dir"] = str(rel)
        nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(BOOK_TABLES, metadata={"tags": ["remove-cell"]}))
        papermill.execute_notebook(nb, str(out / f"{name}.ipynb"),
                                   parameters=parameters,
                                   cwd=str(NOTEBOOKS), kernel_name="python3", execution_timeout=timeout,
                                   progress_bar=False)
        prepare_file(out / f"{name}.ipynb", root=ROOT, cwd=NOTEBOOKS, source=f"notebooks/{notebook}.ipynb")
        wall = round(time.perf_counter() - t0, 1)
        run_times = [json.loads(m.read_text()).get("wall_time_s", 0) for m in (runs / name).glob("**/manifest.json")]
        timings["notebooks"][name] = {"profile": profile, "start_time": start, "wall_time_s": wall,
                                      "runs_wall_time_s": round(sum(run_times), 1),
                                      **({"notebook": notebook} if notebook != name else {})}
        timings.update(provenance)
        atomic_write_json(timings_path, timings)
        print(f"{name}: {wall:.0f} s")
        write_summaries(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m repro.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("store", help="refresh the stored smoke outputs of notebooks")
    s.add_argument("notebooks", nargs="*")
    s.add_argument("--timeout", type=int, default=1800)
    r = sub.add_parser("run", help="execute notebooks under a profile into a folder")
    r.add_argument("notebooks", nargs="*")
    r.add_argument("--profile", default="cpu", choices=PROFILES)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--timeout", type=int, default=None,
                   help="seconds a cell may run (default: no limit; a study's training cell runs for hours)")
    r.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="a notebook parameter for this call, its value read as YAML (e.g. train=false)")
    r.add_argument("--as", dest="page", default=None, metavar="PAGE",
                   help="with one notebook: write its executed copy to OUT/PAGE.ipynb and its runs to OUT/runs/PAGE "
                        "(a second study of the same notebook, e.g. on other data)")
    m = sub.add_parser("summary", help="rewrite OUT/summary.md, OUT/methods.md and OUT/claims.md from "
                                       "OUT/timings.json and the run records")
    m.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("tidy", help="prepare stored executed notebooks for the book (no re-execution)")
    t.add_argument("paths", nargs="+", type=Path)
    a = p.parse_args(argv)
    if a.command == "store":
        store(_names(a.notebooks), a.timeout)
    elif a.command == "tidy":
        for path in a.paths:
            prepare_file(path, root=ROOT, source=f"notebooks/{path.stem}.ipynb")  # a page is named after its notebook
    elif a.command == "summary":
        write_summaries(a.out)
    else:
        names, settings = _names(a.notebooks), _settings(a.settings)
        _check_settings(names, settings)
        run(names, a.profile, a.out, a.timeout, settings, a.page)


if __name__ == "__main__":
    main()
