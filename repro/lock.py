"""An exclusive lock on a run folder, held for the whole life of a run.

Two processes writing one run folder mix their rows and checkpoints (a resume started while the
first run still trains, or two fresh runs started together). :class:`RunLock` takes an exclusive
``fcntl.flock`` on ``<run folder>/.lock`` and writes the holder (pid, host, start time) into it,
so a second writer is refused with :class:`RunLockedError` naming who holds the folder.

The kernel drops a ``flock`` when its process dies (even by ``kill -9``), so a lock file left by a
dead run holds no lock and the next run simply takes it over; the holder text it finds there is
stale and is overwritten. Usage::

    with RunLock(run_dir):
        ...  # create or resume the record, train, finish

The lock is advisory and local: it protects against processes that also use ``RunLock`` on the
same machine (``flock`` over NFS is not reliable).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["RunLock", "RunLockedError", "LOCK_FILE"]

LOCK_FILE = ".lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run folder's lock."""


class RunLock:
    """Context manager holding an exclusive lock on ``path`` (a run folder, created if absent).

    ``acquire()`` / ``release()`` do the same outside a ``with`` block. ``holder`` is what the lock
    file says about the process that holds (or last held) the lock.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.lock_path = self.path / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, record_holder: bool = True) -> "RunLock":
        """Take the lock; ``record_holder=False`` leaves the lock file's text as it was until
        :meth:`record_holder` (so a caller that may still refuse the folder changes nothing in it)."""
        if self._fd is not None:
            raise RuntimeError(f"{self.lock_path} is already held by this RunLock")
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"run folder {self.path} is a file, not a folder; choose another out_dir")
        self._created = [p for p in (self.path, self.lock_path) if not p.exists()]
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLockedError(
                f"run folder {self.path} is in use by another process ({_describe(holder)}). Wait for it "
                "to finish or stop it, or choose another out_dir."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if record_holder:
            self.record_holder()
        return self

    def record_holder(self) -> None:
        """Write this process into the lock file; whatever it said was a dead holder's."""
        if self._fd is None:
            raise RuntimeError(f"{self.lock_path} is not held by this RunLock")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, (json.dumps(_me()) + "\n").encode(), 0)
        os.fsync(self._fd)

    def release(self, undo: bool = False) -> None:
        """Drop the lock (the file stays; it holds no lock once released). ``undo`` also removes the lock
        file and the folder if :meth:`acquire` created them, leaving the folder as it found it."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if undo:
            for p in reversed(getattr(self, "_created", [])):
                try:
                    p.rmdir() if p.is_dir() else p.unlink()
                except OSError:
                    pass

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def holder(self) -> dict[str, Any]:
        """The holder recorded in the lock file (empty if none was written)."""
        try:
            return json.loads(self.lock_path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _me() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "start_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "holder unknown: it has not written its name yet"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('start_time')}"
