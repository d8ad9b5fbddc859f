"""Atomic writes: whole or nothing, and the permissions a plain write would give."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alignscope import io
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


def write_killed_at(target: Path, kind: str, kill_at: int) -> bool:
    """In a forked child, write "new" to `target` and SIGKILL it before the `kill_at`-th line
    of alignscope.io it executes; True if it was killed (False: it finished first)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        lines = 0

        def trace(frame: Any, event: str, arg: Any) -> Any:
            nonlocal lines
            if frame.f_code.co_filename != io.__file__:
                return None
            if event == "line":
                lines += 1
                if lines == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return trace

        sys.settrace(trace)
        if kind == "file":
            io.atomic_write_text(target, "new")
        else:
            with io.atomic_directory(target) as folder:
                (folder / "a").write_text("new")
                io.atomic_write_text(folder / "b", "new")
        sys.settrace(None)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0
    return False


def read_version(target: Path, kind: str) -> str:
    if kind == "file":
        return target.read_text(encoding="utf-8")
    versions = {p.name: p.read_text(encoding="utf-8") for p in target.iterdir()}
    assert set(versions) == {"a", "b"} and len(set(versions.values())) == 1, versions
    return versions["a"]


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_a_writer_killed_at_any_line_leaves_old_or_new_and_no_stray(tmp_path: Path,
                                                                    kind: str) -> None:
    """SIGKILL before each executed line of the write in turn; the next write (here
    `recover`) restores a folder cut between its two renames and removes temporaries."""
    seen = set()
    for kill_at in range(1, 500):
        parent = tmp_path / f"k{kill_at}"
        target = parent / "out"
        if kind == "file":
            atomic_write_text(target, "old")
        else:
            with atomic_directory(target) as folder:
                (folder / "a").write_text("old")
                (folder / "b").write_text("old")
        if not write_killed_at(target, kind, kill_at):
            break
        io.recover(target)
        seen.add(read_version(target, kind))
        assert sorted(os.listdir(parent)) == ["out"], (kill_at, os.listdir(parent))
    else:
        pytest.fail("the writer never finished")
    assert kill_at > 10 and seen == {"old", "new"}  # killed before and after the swap
    assert read_version(target, kind) == "new"
    assert sorted(os.listdir(parent)) == ["out"]


def test_concurrent_folder_writers_never_fail_or_mix(tmp_path: Path) -> None:
    """Processes swapping the same folder in a loop (like two runs filling one cache entry):
    every swap succeeds and the folder holds one writer's whole content."""
    writer = ("import sys; from alignscope.io import atomic_directory\n"
              "for i in range(40):\n"
              "    with atomic_directory(sys.argv[1]) as f:\n"
              "        token = f'{sys.argv[2]}-{i}'\n"
              "        (f / 'a').write_text(token); (f / 'b').write_text(token)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    target = tmp_path / "entry"
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(target), str(n)], env=env,
                              stderr=subprocess.PIPE, text=True) for n in range(3)]
    errors = [proc.communicate()[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    assert (target / "a").read_text() == (target / "b").read_text()
    assert sorted(os.listdir(tmp_path)) == ["entry"]
