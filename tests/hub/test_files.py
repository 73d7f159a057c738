import os
import stat
from pathlib import Path

import pytest

from hub.files import read_private, write_private


def test_private_files_are_0600_from_the_start_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    old_umask = os.umask(0)  # the worst case: a process that would create world-writable files
    try:
        write_private(path, "one")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(path, "two")
    assert read_private(path) == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temp file left behind


def test_an_empty_or_missing_secret_counts_as_none(tmp_path: Path) -> None:
    assert read_private(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("\n")
    assert read_private(tmp_path / "empty") is None


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret"
    write_private(path, "old")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_private(path, "new")
    assert read_private(path) == "old" and [p.name for p in tmp_path.iterdir()] == ["secret"]
