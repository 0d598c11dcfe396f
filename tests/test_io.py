"""Atomic writes: leftovers are cleaned, and refused writes say which file and what to do (issue 13)."""

from __future__ import annotations

import errno
import os

import pytest

from repro import io as rio


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    (ck / "last.pt").write_bytes(b"good")
    stale = [ck / ".last.pt.n2wini55.tmp", tmp_path / ".metrics.csv.ab_9xYz0.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    kept = [tmp_path / ".lock", tmp_path / "notes.tmp", tmp_path / ".hidden.tmp"]  # not mkstemp names
    for p in kept:
        p.write_text("x")
    removed = rio.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept) and (ck / "last.pt").read_bytes() == b"good"
    assert rio.remove_stale_temporaries(tmp_path / "absent") == []


def test_disk_full_error_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "run" / "manifest.json"
    rio.atomic_write(target, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rio.os, "fsync", full)
    with pytest.raises(OSError) as info:
        rio.atomic_write(target, "new")
    msg = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert str(target.parent) in msg and "manifest.json" in msg and "Free space" in msg
    assert target.read_text() == "old" and os.listdir(target.parent) == ["manifest.json"]

    def other(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(rio.os, "fsync", other)  # other errors pass through unchanged
    with pytest.raises(OSError, match=r"^\[Errno 5\] Input/output error$"):
        rio.atomic_write(target, "new")


def test_permission_error_names_the_file_and_the_way_out(tmp_path, monkeypatch):
    def refused(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(rio.tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError) as info:
        rio.atomic_write(tmp_path / "grid.png", b"png")
    assert str(tmp_path / "grid.png") in str(info.value) and "writable" in str(info.value)
