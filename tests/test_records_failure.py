"""A failed run is recorded as failed even on a full disk, or says where it could not be (issue 13, #77)."""

from __future__ import annotations

import errno
import json

import pytest

from repro import records


def _full(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failure_is_recorded_in_place_when_the_disk_is_full(tmp_path, monkeypatch):
    rec = records.RunRecord(tmp_path / "run", "unit", {"lr": 1e-4, "epochs": 2})
    monkeypatch.setattr(records, "atomic_write_json", _full)  # no room for the atomic copy
    rec.fail(OSError(errno.ENOSPC, "No space left on device"))
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "failed" and "No space left" in m["error"] and m["end_time"]
    with pytest.raises(OSError):  # only fail() falls back; any other write still raises
        rec.update(note="x")


def test_unrecordable_failure_says_where_and_keeps_the_original_error(tmp_path, monkeypatch, capsys):
    rec = records.RunRecord(tmp_path / "run", "unit", {"lr": 1e-4})
    monkeypatch.setattr(records, "atomic_write_json", _full)
    monkeypatch.setattr(records, "_overwrite_in_place", lambda path, text: False)
    err = RuntimeError("the run broke")
    rec.fail(err)  # must not raise: the caller re-raises err
    where = str(tmp_path / "run" / "manifest.json")
    assert any(where in n and "running" in n for n in err.__notes__)
    assert where in capsys.readouterr().err
