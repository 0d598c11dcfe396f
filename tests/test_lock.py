"""Run-folder locks: one writer per run folder, named when it refuses another (issue 13, item 1)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from repro.lock import LOCK_FILE, RunLock, RunLockedError

_TRY_LOCK = textwrap.dedent("""
    import sys
    from repro.lock import RunLock, RunLockedError
    try:
        RunLock(sys.argv[1]).acquire()
    except RunLockedError as e:
        print(e); sys.exit(3)
    print("acquired")
""")

_LOCK_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from repro.lock import RunLock
    RunLock(sys.argv[1]).acquire()
    os.kill(os.getpid(), signal.SIGKILL)  # killed while holding the lock, as by kill -9
""")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)


def test_second_process_is_refused_with_the_holder_named(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        out = _python(_TRY_LOCK, str(run))
    assert out.returncode == 3, out.stderr
    msg = out.stdout
    assert "in use by another process" in msg
    assert f"pid {os.getpid()}" in msg and socket.gethostname() in msg and "started 20" in msg


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    run = tmp_path / "run"
    dead = _python(_LOCK_AND_DIE, str(run))
    assert dead.returncode == -signal.SIGKILL
    stale = json.loads((run / LOCK_FILE).read_text())
    assert stale["pid"] != os.getpid()  # the dead holder's record is still in the file
    with RunLock(run) as lock:
        assert lock.holder["pid"] == os.getpid()


def test_lock_is_free_again_after_the_block(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        pass
    assert _python(_TRY_LOCK, str(run)).stdout.strip() == "acquired"


def test_same_process_cannot_lock_one_folder_twice(tmp_path):
    # flock locks belong to open file descriptions, so a second RunLock in one process is refused too
    with RunLock(tmp_path), pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        RunLock(tmp_path).acquire()


def test_run_folder_that_is_a_file_is_refused_clearly(tmp_path):
    f = tmp_path / "not_a_folder"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        RunLock(f).acquire()
    assert f.read_text() == "x"
