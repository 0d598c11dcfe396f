"""Where data sets are looked for.

The data root is, in order: the ``root`` argument, ``$REPRO_DATA``, ``./data`` when it exists, and
otherwise ``data/`` in the repository checkout. Read-only copies of the raw files are also looked
for in ``../shared/data`` beside the checkout and in Debian's ``/usr/share/datasets``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DatasetNotFoundError", "CorruptDatasetError", "data_root", "repo_root", "candidate_dirs",
           "relative_source"]


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are absent and could not be downloaded; the message says where to put them."""


class CorruptDatasetError(ValueError):
    """A data set's files exist but cannot be read; the message names the file and the fix."""


def repo_root() -> Path:
    """The checkout holding the ``repro`` package (its parent folder)."""
    return Path(__file__).resolve().parents[2]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: argument, ``$REPRO_DATA``, ``./data`` if present, else ``<repo>/data``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("REPRO_DATA"):
        return Path(os.environ["REPRO_DATA"]).expanduser()
    if Path("data").is_dir():
        return Path("data").resolve()
    return repo_root() / "data"


def candidate_dirs(root: Path, name: str, system: str | None = None) -> list[Path]:
    """Folders that may hold the raw files of data set ``name``, most specific first."""
    dirs = [root / name]
    if os.environ.get("REPRO_DATA"):
        dirs.append(Path(os.environ["REPRO_DATA"]).expanduser() / name)
    dirs.append(repo_root().parent / "shared" / "data" / name)
    if system:
        dirs.append(Path("/usr/share/datasets") / system)
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def relative_source(path: Path, root: Path) -> str:
    """``path`` relative to the data root holding it (``root``, ``$REPRO_DATA``, the shared data
    folder or ``/usr/share/datasets``), e.g. ``cifar10-jpeg/test.zip``: records and shipped files
    must not carry the absolute paths of the machine they were made on."""
    roots = [root]
    if os.environ.get("REPRO_DATA"):
        roots.append(Path(os.environ["REPRO_DATA"]).expanduser())
    roots += [repo_root().parent / "shared" / "data", Path("/usr/share/datasets")]
    resolved = Path(path).resolve()
    for r in roots:
        try:
            return resolved.relative_to(Path(r).resolve()).as_posix()
        except ValueError:
            continue
    return Path(path).name
