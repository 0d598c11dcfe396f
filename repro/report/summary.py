"""A Markdown summary of executed runs, for the book's reproducibility chapter.

Generated from ``timings.json`` and every ``manifest.json`` below a results folder, so that the
chapter's tables are never typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..records import load_record

__all__ = ["summary_markdown"]


def _device(m: dict) -> str:
    hw = m.get("hardware", {})
    threads = hw.get("torch_threads")
    return hw.get("gpu") or (f"CPU ({threads} thread{'' if threads == 1 else 's'})" if threads else "CPU")


def summary_markdown(results: str | Path) -> str:
    """Wall time per notebook; run folders and their wall time per notebook; and, folded into a dropdown,
    one row per run folder (manifest)."""
    results = Path(results)
    out = []
    timings = json.loads((results / "timings.json").read_text()) if (results / "timings.json").exists() else {}
    if timings:
        git = timings.get("git", {})
        out += ["| notebook | profile | executed (UTC) | notebook wall time | its runs' wall time |",
                "| --- | --- | --- | --- | --- |"]
        total = runs_total = 0.0
        for name, t in timings["notebooks"].items():
            runs_s = t.get("runs_wall_time_s", 0.0)
            total, runs_total = total + t["wall_time_s"], runs_total + runs_s
            out.append(f"| `{name}` | {t['profile']} | {t['start_time']} | {t['wall_time_s'] / 60:.1f} min | "
                       f"{runs_s / 60:.1f} min |")
        out.append(f"| **all** | | | **{total / 60:.1f} min** | **{runs_total / 60:.1f} min** |")
        out += ["", "A notebook re-executed over finished runs reuses them, so its own wall time can be far below "
                "the wall time of its runs (summed from their manifests)."]
        versions = ", ".join(f"{k} {v}" for k, v in timings.get("versions", {}).items())
        hw = timings.get("hardware", {})
        out += ["", f"Commit `{str(git.get('commit'))[:12]}`{' (with uncommitted changes)' if git.get('dirty') else ''};"
                f" {hw.get('platform', '')}, {hw.get('cpu_count', '?')} CPUs; {versions}.", ""]
    rows = ["| run | kind | data | device | epochs / rows | wall time | status |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
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
                    f"{m.get('wall_time_s', 0):.0f} s | {m.get('status')} |")
        per_notebook.setdefault(run.parts[0], []).append(float(m.get("wall_time_s") or 0.0))
    if not per_notebook:
        return "\n".join(out + rows) + "\n"
    head = ["| notebook | run folders | their wall time |", "| --- | --- | --- |"]
    head += [f"| `{name}` | {len(walls)} | {sum(walls) / 60:.1f} min |" for name, walls in per_notebook.items()]
    folded = ["", f":::{{dropdown}} All {len(rows) - 2} run folders, one row per manifest", "", *rows, "", ":::"]
    return "\n".join(out + head + folded) + "\n"
