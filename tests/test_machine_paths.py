"""No committed file of the project names a folder of the machine it was made on.

Executed notebooks, run records and generated Markdown are written by code on some machine; their text
(outputs and metadata alike, e.g. papermill's ``input_path`` and ``output_path``) must speak of the
project, not of that machine. Tests and the nbval sanitiser, which name such folders on purpose, are
left out.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(?:tmp|home|root|work|opt|Users|mnt|scratch)/[\w.-]+")
EXEMPT = ("tests/", "notebooks/nbval-sanitize.cfg")
TEXT = (".py", ".md", ".ipynb", ".json", ".csv", ".yml", ".yaml", ".toml", ".cfg", ".txt", ".bib", "Makefile")


def machine_paths(text: str) -> list[str]:
    """The absolute paths of a machine's folders named in ``text``."""
    return MACHINE_PATH.findall(text)


def _folder(*parts: str) -> str:
    """An absolute folder built at run time, so that this file names none itself."""
    return "/" + "/".join(parts)


def test_the_pattern_finds_machine_folders_and_not_urls_or_relative_paths():
    out, home, cache = _folder("tmp", "pages-out"), _folder("home", "someone"), _folder("root", ".cache")
    assert machine_paths(f'"output_path": "{out}/collapse.ipynb"') == [out]
    assert machine_paths(f"see {home}/x.py and {cache}") == [home, cache]
    assert machine_paths("https://example.org/work/page and book/results/runs/x and ~/work/x") == []


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [f for f in out.stdout.splitlines() if f.endswith(TEXT) and not f.startswith(EXEMPT)]


def test_no_committed_file_names_a_folder_of_the_machine_it_was_made_on():
    found = {}
    for name in _tracked():
        path = ROOT / name
        if path.is_file():
            hits = machine_paths(path.read_text(errors="replace"))
            if hits:
                found[name] = sorted(set(hits))[:3]
    assert not found, f"absolute machine paths in committed files (write them relative to the checkout): {found}"
