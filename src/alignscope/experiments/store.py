"""Run folders of a sweep: `OUT/runs/NAME/` appears whole, with `run.json` naming its key.

A run is worked on in `OUT/runs/.NAME.tmp/` and renamed into place only when it has finished,
with `run.json` (key, configuration, timings, versions and the sha256 of every result file)
written last inside it. So a run killed at any point, SIGKILL included, leaves only a
temporary folder, which the next sweep removes; a folder whose `run.json` is unreadable or
whose files no longer match their hashes is not a result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from alignscope.errors import AlignscopeError
from alignscope.experiments.plan import RunSpec
from alignscope.io import atomic_write_json
from alignscope.runs import CHECKPOINT_DIR

RUNS = "runs"
RUN_FILE = "run.json"
LOCK_FILE = ".sweep.lock"
UNHASHED = (CHECKPOINT_DIR,)  # large weights: present or deleted, never read back as results
State = Literal["done", "absent", "corrupt"]


class RunConflictError(AlignscopeError):
    """A run folder holds the result of another configuration."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def result_files(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file of a run folder but run.json and checkpoints."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] != RUN_FILE and \
                not any(part in UNHASHED for part in relative.parts[:-1]):
            files[relative.as_posix()] = _sha256(path)
    return files


class RunStore:
    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs = self.out / RUNS

    def folder(self, name: str) -> Path:
        return self.runs / name

    def work_folder(self, name: str) -> Path:
        """A fresh temporary folder for a run in progress."""
        work = self.runs / f".{name}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        return work

    def read(self, name: str, verify: bool = True) -> dict[str, Any] | None:
        """The run's record if the folder holds a whole, unaltered result; else None."""
        file = self.folder(name) / RUN_FILE
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("status") != "done" or \
                not isinstance(record.get("files"), dict):
            return None
        if verify and result_files(self.folder(name)) != record["files"]:
            return None
        return record

    def state(self, run: RunSpec) -> State:
        """done, absent or corrupt; a result of another configuration is refused."""
        folder = self.folder(run.name)
        if not folder.exists():
            return "absent"
        record = self.read(run.name)
        if record is None:
            return "corrupt"
        if record.get("key") != run.key:
            raise RunConflictError(
                f"{folder} holds a result of a different configuration (key {record.get('key')}, "
                f"this experiment's is {run.key})",
                "use another --out, or move that folder away to redo the run")
        return "done"

    def commit(self, run: RunSpec, work: Path, record: dict[str, Any]) -> dict[str, Any]:
        """Seal `work` with its run.json and rename it into place."""
        record = {**record, "name": run.name, "kind": run.kind, "key": run.key,
                  "config": run.config, "labels": run.labels, "status": "done",
                  "files": result_files(work)}
        atomic_write_json(work / RUN_FILE, record)
        final = self.folder(run.name)
        if final.exists():  # only a corrupt folder can be here: it was moved aside first
            raise AlignscopeError(f"{final} appeared while the run was in progress")
        os.replace(work, final)
        _fsync_dir(self.runs)
        return record

    def quarantine(self, name: str) -> Path:
        """Move a corrupt run folder aside (kept for inspection, never read)."""
        target = self.runs / f".{name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        os.replace(self.folder(name), target)
        return target

    def clean_stale(self) -> list[Path]:
        """Remove temporaries left by interrupted sweeps (call with the sweep lock held)."""
        stale = [*self.runs.glob(".*.tmp"), *self.out.glob(".*.tmp")] if self.runs.exists() \
            else list(self.out.glob(".*.tmp"))
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return stale


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def sweep_lock(out: Path) -> Iterator[None]:
    """One sweep at a time per output folder (the lock dies with its process)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise AlignscopeError(f"another sweep is running in {out} (pid "
                                  f"{handle.read().strip() or '?'}); wait for it or use another "
                                  "--out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_locked(out: Path) -> bool:
    """Whether a live sweep holds the folder."""
    path = out / LOCK_FILE
    if not path.exists():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
