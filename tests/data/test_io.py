"""Atomic writes: whole or nothing, and the permissions a plain write would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from alignscope.io import atomic_directory, atomic_write_json, atomic_write_text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_and_folders_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        text = atomic_write_text(tmp_path / "a.txt", "hello\n")
        with atomic_directory(tmp_path / "run") as folder:
            atomic_write_json(folder / "results.json", {"x": 1})
    finally:
        os.umask(previous)
    assert text.read_text(encoding="utf-8") == "hello\n" and mode(text) == 0o644
    assert mode(tmp_path / "run") == 0o755 and mode(tmp_path / "run" / "results.json") == 0o644


def test_a_failed_block_leaves_the_previous_content(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "run" / "results.json", "old")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "run") as folder:
        (folder / "results.json").write_text("new", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert (tmp_path / "run" / "results.json").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
