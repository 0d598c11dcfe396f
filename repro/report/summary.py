"""A Markdown summary of executed runs, for the book's reproducibility chapter.

Generated from ``timings.json`` and every ``manifest.json`` below a results folder, so that the
chapter's tables are never typed by hand.
"""

from __future__ import annotations

from pathlib import Path

from ..records import load_record
from .runs import read_timings
from .tables import with_caption

__all__ = ["summary_markdown"]


def _device(m: dict) -> str:
    hw = m.get("hardware", {})
    threads = hw.get("torch_threads")
    return hw.get("gpu") or (f"CPU ({threads} thread{'' if threads == 1 else 's'})" if threads else "CPU")


def _min(seconds: float) -> str:
    """Seconds as minutes to one decimal, "< 0.1 min" below that (never "0.0 min")."""
    return f"{seconds / 60:.1f} min" if seconds >= 3 else "< 0.1 min"


def _minute(stamp: str) -> str:
    """An ISO time stamp to the minute, "2026-12-02 20:07" (the table's header says UTC)."""
    return str(stamp).replace("T", " ")[:16]


def _commits(m: dict) -> str:
    """The commit a run started from and each other commit it was resumed at, in order, short; one with
    uncommitted changes is marked "(dirty)"."""
    seen: list[str] = []
    for git in [m.get("git", {})] + [r.get("git", {}) for r in m.get("resumed_on", [])]:
        if git.get("commit"):
            name = git["commit"][:7] + (" (dirty)" if git.get("dirty") else "")
            if name not in seen:
                seen.append(name)
    return ", then ".join(seen) or "?"


def summary_markdown(results: str | Path) -> str:
    """Wall time per notebook; run folders and their wall time per notebook; and, folded into a dropdown,
    one row per run folder (manifest)."""
    results = Path(results)
    out = []
    timings = read_timings(results)
    if timings:
        git = timings.get("git", {})
        table = ["| notebook | profile | executed (UTC) | notebook wall time | its runs' wall time |",
                 "| --- | --- | --- | --- | --- |"]
        total = runs_total = 0.0
        for name, t in timings["notebooks"].items():
            runs_s = t.get("runs_wall_time_s", 0.0)
            total, runs_total = total + t["wall_time_s"], runs_total + runs_s
            table.append(f"| `{name}` | {t['profile']} | {_minute(t['start_time'])} | {_min(t['wall_time_s'])} | {_min(runs_s)} |")
        table.append(f"| **all** | | | **{total / 60:.1f} min** | **{runs_total / 60:.1f} min** |")
        out += [with_caption("\n".join(table), "Each notebook's last execution: when, its own wall time, and the "
                             "summed wall time of the runs it drew on at that time")]
        out += ["A notebook re-executed over finished runs reuses them, so its own wall time can be far below "
                "the wall time of its runs (summed from their manifests)."]
        versions = ", ".join(f"{k} {v}" for k, v in timings.get("versions", {}).items())
        hw = timings.get("hardware", {})
        out += ["", f"Commit `{str(git.get('commit'))[:12]}`{' (with uncommitted changes)' if git.get('dirty') else ''};"
                f" {hw.get('platform', '')}, {hw.get('cpu_count', '?')} CPUs; {versions}.", ""]
    rows = ["| run | kind | data | device | epochs / rows | wall time | status | commit |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    per_notebook: dict[str, list[float]] = {}
    for manifest in sorted(results.glob("runs/**/manifest.json")):
        rec = load_record(manifest.parent)
        m, n_rows = rec.manifest, len(rec.rows)
        run = manifest.parent.relative_to(results / "runs")
        data = m.get("data", {})
        label = data.get("label", data.get("name", ""))
        if data.get("n"):
            label += f", {data['n']:,}"
        rows.append(f"| `{run}` | {m.get('kind')} | {label} | {_device(m)} | {n_rows} | "
                    f"{m.get('wall_time_s', 0):.0f} s | {m.get('status')} | {_commits(m)} |")
        per_notebook.setdefault(run.parts[0], []).append(float(m.get("wall_time_s") or 0.0))
    if not per_notebook:
        return "\n".join(out + rows) + "\n"
    head = ["| notebook | run folders | their wall time |", "| --- | --- | --- |"]
    head += [f"| `{name}` | {len(walls)} | {sum(walls) / 60:.1f} min |" for name, walls in per_notebook.items()]
    head = [with_caption("\n".join(head), "The run folders of each notebook and their summed wall time")]
    folded = ["", f":::{{dropdown}} All {len(rows) - 2} run folders, one row per manifest", "",
              with_caption("\n".join(rows), "Every run folder, from its manifest: kind, data, device, epochs "
                           "(or rows) recorded, wall time, status and the commits it ran at (started, then resumed)"), ":::"]
    return "\n".join(out + head + folded) + "\n"
