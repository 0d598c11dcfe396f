"""Atomic file writes and checksums.

Every file the project writes goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder, flushed to disk, then renamed over the target, so a run killed
midway leaves either the previous file or the new one, never half of one. A process killed inside
the write (``kill -9``) can leave the hidden temporary (``.<name>.<random>.tmp``) behind;
:func:`remove_stale_temporaries` deletes those when a run folder is opened again. A write refused by
the disk (full, read-only, no permission) raises an ``OSError`` that names the file and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = ["atomic_open", "atomic_write", "atomic_write_json", "atomic_torch_save", "sha256_file",
           "remove_stale_temporaries"]

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}
# mkstemp's names: ".<target name>.<8 random characters>.tmp"
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _file_mode() -> int:
    """The mode ``open()`` gives a new file under the process umask (mkstemp's files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit rename it onto ``path``.

    If the block raises, the temporary file is removed and ``path`` is left untouched. A full disk
    or a refused permission raises an ``OSError`` of the same kind whose message names ``path``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _explained(e, path) from e
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), _FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _explained(e, path) from e
        raise


def _explained(e: OSError, path: Path) -> OSError:
    """``e`` again, with a message that names the file and the way out (disk full, no permission)."""
    if e.errno in _NO_SPACE:
        why = (f"no space left on the disk holding {path.parent} while writing {path.name}; "
               f"the previous {path.name}, if any, is intact. Free space there (or choose another "
               "output folder) and run again; a training run that saved a checkpoint can be resumed from it")
    elif e.errno in _NO_PERMISSION:
        why = (f"cannot write {path}: {os.strerror(e.errno).lower()}. Make {path.parent} writable "
               "for this user, or choose another output folder")
    else:
        return e
    return type(e)(e.errno, why, str(path))


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Delete the hidden ``.<name>.<random>.tmp`` files a killed :func:`atomic_open` left in ``folder``.

    Call it only while no other process writes into ``folder`` (e.g. under :class:`repro.lock.RunLock`),
    since a live writer's temporary looks the same. Returns the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    removed = []
    for p in sorted(found):
        if _TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (bytes or text) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically (serialised in memory, then written and renamed)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
