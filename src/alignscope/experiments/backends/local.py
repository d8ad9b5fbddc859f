"""This machine: runs in the sweep's own process (one job, so that data and tokenisation are
shared between runs), or in worker processes, one slot per job.

With GPUs visible, each slot is pinned to one device and `runs_per_device` slots share a device
(several small fine-tunes fill a large GPU); without, the slots run on the CPU and split its
cores between them. A worker process lives for the whole sweep and keeps its shared data; one
that dies (killed, out of memory) fails only the run it held, and its slot gets a new worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from alignscope.experiments.execute import execute_run
from alignscope.experiments.plan import RunSpec

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A worker must not outlive a killed sweep (it would write into a cleaned folder)."""
    # Not on Linux: workers end when their queue closes.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_in_worker(run: dict[str, Any], work: str) -> dict[str, Any]:
    return execute_run(RunSpec.from_dict(run), Path(work))


def plan_slots(jobs: int | None, runs_per_device: int, gpus: int,
               threads: int | None) -> list[dict[str, Any]]:
    """Each slot's device and CPU threads (`jobs` and `runs_per_device` at least 1)."""
    if gpus:
        slots = [{"device": f"cuda:{i}", "threads": threads or 1}
                 for i in range(gpus) for _ in range(runs_per_device)]
        return slots[:jobs] if jobs else slots
    count = jobs or 1
    per_job = threads or (max(1, (os.cpu_count() or 1) // count) if count > 1 else None)
    return [{"device": "cpu", "threads": per_job} for _ in range(count)]


class LocalBackend:
    def __init__(self, jobs: int | None = None, runs_per_device: int = 1,
                 threads: int | None = None, device: str = "auto") -> None:
        import torch

        gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
        if device not in ("auto", "cuda", "cpu"):  # an explicit cuda:N: every slot on it
            self.slots = [{"device": device, "threads": threads}] * max(jobs or 1, 1)
        else:
            self.slots = plan_slots(jobs, runs_per_device, gpus, threads)
        self.busy: dict[Path, int] = {}  # work folder -> slot, until the run is collected
        self.pools: dict[int, ProcessPoolExecutor] = {}

    @property
    def inline(self) -> bool:
        return len(self.slots) == 1

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "jobs": len(self.slots),
                "devices": sorted({slot["device"] for slot in self.slots}),
                "in_process": self.inline}

    def free(self) -> bool:
        return len(self.busy) < len(self.slots)

    def submit(self, run: RunSpec, work: Path) -> Future[Any]:
        index = next(i for i in range(len(self.slots)) if i not in self.busy.values())
        slot = self.slots[index]
        runtime = {**run.runtime, "device": slot["device"],
                   "threads": run.runtime.get("threads") or slot["threads"]}
        run = dataclasses.replace(run, runtime=runtime)
        self.busy[work] = index
        if self.inline:
            future: Future[Any] = Future()
            future.set_result(execute_run(run, work))
            return future
        try:
            return self._pool(index).submit(_run_in_worker, run.to_dict(), str(work))
        except BrokenProcessPool:  # its worker died (killed, out of memory): its run failed
            self.pools.pop(index).shutdown(wait=False)
            return self._pool(index).submit(_run_in_worker, run.to_dict(), str(work))

    def _pool(self, index: int) -> ProcessPoolExecutor:
        if index not in self.pools:
            self.pools[index] = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent)
        return self.pools[index]

    def finish(self, work: Path, result: Any) -> dict[str, Any]:
        self.busy.pop(work, None)
        return dict(result)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self.pools.clear()
