"""Worker processes of the local backend (`--jobs 2`): one killed mid-run (out of memory, a
stray `kill`) fails only its own run; its slot gets a fresh worker and the other runs finish."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alignscope.experiments.sweep import run_sweep, sweep_status

ALL_RUNS = {"pos-REF-s1", "pos-REF-s2", "pos-REF-s3"}


def kill_one_worker_mid_run(out: Path, before: set[int], killed: list[int]) -> None:
    """SIGKILL one worker once both slots hold a run that is not finished (no result yet)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = [p for p in multiprocessing.active_children() if p.pid not in before]
        in_flight = list((out / "runs").glob(".pos-*.tmp")) if (out / "runs").exists() else []
        if len(workers) == 2 and len(in_flight) == 2:
            os.kill(workers[0].pid, signal.SIGKILL)  # type: ignore[arg-type]
            killed.append(workers[0].pid)  # type: ignore[arg-type]
            return
        time.sleep(0.005)


@pytest.mark.slow  # three fine-tuning runs in two worker processes
def test_a_killed_worker_fails_its_run_only(experiment: Callable[..., dict[str, Any]],
                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = {p.pid for p in multiprocessing.active_children()}
    killed: list[int] = []
    killer = threading.Thread(target=kill_one_worker_mid_run, args=(out, before, killed))
    killer.start()
    # Three runs on two slots: the third goes to the slot whose worker was killed.
    exp = experiment(seeds=[1, 2, 3], random_init={"reference": True})
    result = run_sweep(exp, out, jobs=2, progress=False)
    killer.join()
    assert len(killed) == 1, "the two workers were never both busy"

    failed = result.failed
    assert len(failed) == 1, result.statuses  # the killed worker's run, and only it
    assert {name for name, s in result.statuses.items() if s == "done"} == ALL_RUNS - set(failed)
    entry = sweep_status(out)["runs"][failed[0]]
    assert "process" in entry["error"] and entry["attempts"] == 1
    assert not (out / "runs" / failed[0]).exists()
    assert not list((out / "runs").glob(".*.tmp"))

    again = run_sweep(exp, out, retry_failed=True, progress=False)
    assert again.executed == failed
    assert sweep_status(out)["counts"] == {"done": 3}
