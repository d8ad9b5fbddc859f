"""`run_sweep`: validate an experiment, then run what is not done yet, resumably.

    from alignscope.experiments import run_sweep
    result = run_sweep("configs/small/pos.yaml", "runs/small-pos", jobs=1)

Everything that can be wrong with the experiment is found before any run starts (spec.py,
plan.py), including run folders that hold a result of another configuration. Finished runs
are never redone; failed ones are redone only with `retry_failed`.
"""

from __future__ import annotations

import platform
import shutil
import socket
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignscope.errors import ConfigError
from alignscope.experiments.backends import Backend
from alignscope.experiments.checkpoints import Checkpoints
from alignscope.experiments.execute import execute_run
from alignscope.experiments.manifest import RECORDED, Manifest, open_sweep, read_manifest
from alignscope.experiments.plan import DRIVER_KINDS, RunSpec, plan
from alignscope.experiments.spec import ExperimentSpec, load_spec
from alignscope.experiments.store import RunStore, is_locked, sweep_lock
from alignscope.io import atomic_write_text
from alignscope.progress import JobProgress
from alignscope.runs import timestamp

EXPERIMENT_FILE = "experiment.yaml"


@dataclass
class PlannedRun:
    run: RunSpec
    state: str  # done | todo | failed (not retried) | corrupt (redone)
    resumes_at: int | None = None  # the step of an unfinished fine-tune's checkpoint


@dataclass
class SweepResult:
    out: Path
    planned: list[PlannedRun]
    executed: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, status in self.statuses.items() if status == "failed"]


def prepare(config: str | Path | dict[str, Any], out: str | Path,
            overrides: list[str] | None = None, retry_failed: bool = False,
            ) -> tuple[ExperimentSpec, list[PlannedRun]]:
    """Validate the experiment and say, for every run, what a sweep would do with it."""
    spec = load_spec(config, overrides)
    runs = plan(spec)
    store, checkpoints = RunStore(out), Checkpoints(out)
    previous = (read_manifest(Path(out)) or {}).get("runs", {})
    planned = []
    for run in runs:
        state = store.state(run)  # refuses a folder holding another configuration
        if state == "absent":
            old = previous.get(run.name, {})
            failed = old.get("key") == run.key and old.get("status") in ("failed", "skipped")
            state = "failed" if failed and not retry_failed else "todo"
        # A checkpoint of another configuration is refused too.
        planned.append(PlannedRun(run, state, checkpoints.step(run) if state != "done" else None))
    return spec, planned


def run_sweep(config: str | Path | dict[str, Any], out: str | Path, *,
              overrides: list[str] | None = None, jobs: int | None = None,
              runs_per_device: int = 1, backend: str = "local", address: str | None = None,
              retry_failed: bool = False, progress: bool | None = None) -> SweepResult:
    """Run the experiment's unfinished runs into `out`; returns what was planned and done."""
    out = Path(out)
    _check_backend(backend, jobs, runs_per_device, address)
    spec, _ = prepare(config, out, overrides, retry_failed)
    # Connected before anything is written: a wrong --address leaves no trace.
    executor = _backend(backend, spec, jobs, runs_per_device, address)
    try:
        with sweep_lock(out):
            return _run_locked(config, out, overrides, retry_failed, executor, progress)
    finally:
        executor.close()


def _run_locked(config: str | Path | dict[str, Any], out: Path, overrides: list[str] | None,
                retry_failed: bool, executor: Backend, progress: bool | None) -> SweepResult:
    store = RunStore(out)
    store.clean_stale()
    # Re-checked under the lock: another sweep may have finished runs meanwhile.
    spec, planned = prepare(config, out, overrides, retry_failed)
    atomic_write_text(out / EXPERIMENT_FILE, _dump(spec))
    manifest = Manifest(out, spec.name, [p.run for p in planned])
    checkpoints = Checkpoints(out)
    for item in planned:
        if item.state == "done":
            manifest.data["runs"][item.run.name]["status"] = "done"
            checkpoints.remove(item.run.name)  # left by a sweep killed as it sealed the run
    manifest.start_sweep({"host": socket.gethostname(), "platform": platform.platform(),
                          **executor.describe()})
    result = SweepResult(out, planned)
    todo = [p.run for p in planned if p.state in ("todo", "corrupt")]
    try:
        with JobProgress("sweep", len(todo), progress) as display:
            for item in planned:
                if item.state == "corrupt":
                    moved = store.quarantine(item.run.name)
                    display.log(f"{item.run.name}: not a whole result; moved to {moved}")
            _Scheduler(store, manifest, executor, display, result, spec, checkpoints).run(todo)
    finally:
        manifest.finish_sweep(manifest.counts())
    from alignscope.experiments.aggregate import write_tables

    write_tables(out)
    return result


def _dump(spec: ExperimentSpec) -> str:
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _check_backend(name: str, jobs: int | None, runs_per_device: int,
                   address: str | None) -> None:
    if name not in ("local", "ray"):
        raise ConfigError(f"--backend {name!r}: use local or ray")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    if runs_per_device < 1:
        raise ConfigError(f"--runs-per-device must be at least 1, got {runs_per_device}")
    if address is not None and name != "ray":
        raise ConfigError(f"--address {address} is a Ray cluster's, and the backend is {name}",
                          "add --backend ray, or drop --address")


def _backend(name: str, spec: ExperimentSpec, jobs: int | None, runs_per_device: int,
             address: str | None) -> Backend:
    if name == "local":
        from alignscope.experiments.backends.local import LocalBackend

        return LocalBackend(jobs, runs_per_device, spec.threads, spec.device)
    if name == "ray":
        from alignscope.experiments.backends.ray_backend import RayBackend

        return RayBackend(address, jobs, runs_per_device)
    raise AssertionError(name)  # _check_backend


class _Scheduler:
    """Starts runs whose dependencies are done, as slots free up; commits what finishes."""

    def __init__(self, store: RunStore, manifest: Manifest, backend: Backend,
                 display: JobProgress, result: SweepResult, spec: ExperimentSpec,
                 checkpoints: Checkpoints) -> None:
        self.store, self.manifest, self.backend = store, manifest, backend
        self.checkpoints = checkpoints
        self.display, self.result = display, result
        self.keep = spec.keep_checkpoints
        self.running: dict[Future[Any], tuple[RunSpec, Path]] = {}

    def run(self, todo: list[RunSpec]) -> None:
        waiting = list(todo)
        while waiting or self.running:
            for run in list(waiting):
                blocked = [d for d in run.deps if self.manifest.status(d) in ("failed", "skipped")]
                if blocked:
                    waiting.remove(run)
                    self._record(run, {"status": "skipped", "error": f"{blocked[0]} failed"})
                elif all(self.manifest.status(d) == "done" for d in run.deps) and \
                        (run.kind in DRIVER_KINDS or self.backend.free()):
                    waiting.remove(run)
                    self._start(run)
            if self.running:
                finished, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                for future in finished:
                    self._collect(future)
            elif waiting and not any(self.manifest.status(d) == "pending"
                                     for run in waiting for d in run.deps):
                raise RuntimeError(f"cannot start {waiting[0].name}: its dependencies "
                                   f"{waiting[0].deps} are not in this sweep")

    def _start(self, run: RunSpec) -> None:
        run = RunSpec(run.name, run.kind, run.config, run.labels,
                      {**run.runtime, "keep_checkpoint": self.keep,
                       **self.checkpoints.runtime(run)}, run.deps)
        work = self.store.work_folder(run.name)
        attempts = self.manifest.data["runs"][run.name].get("attempts", 0) + 1
        self.manifest.update(run.name, status="running", started=timestamp(), attempts=attempts)
        self.result.executed.append(run.name)
        if run.kind in DRIVER_KINDS:  # reads other runs' folders: here
            self.display.started(run.name, "driver")
            deps = {name: self.store.folder(name) for name in run.deps}
            future: Future[Any] = Future()
            future.set_result(execute_run(run, work, deps))
        else:
            self.display.started(run.name, self.backend.describe()["backend"])
            future = self.backend.submit(run, work)
        self.running[future] = (run, work)
        if future.done():  # ran here: seal it before starting the next
            self._collect(future)

    def _collect(self, future: Future[Any]) -> None:
        run, work = self.running.pop(future)
        try:
            outcome = future.result()
        except Exception as error:  # a worker died (out of memory, killed)
            outcome = {"status": "failed", "error": f"worker lost: {type(error).__name__}: "
                                                    f"{error}", "finished": timestamp()}
        record = outcome if run.kind in DRIVER_KINDS else self.backend.finish(work, outcome)
        if record.get("status") == "done":
            record = self.store.commit(run, work, record)
            self.checkpoints.remove(run.name)
        else:
            shutil.rmtree(work, ignore_errors=True)
        self._record(run, record)

    def _record(self, run: RunSpec, record: dict[str, Any]) -> None:
        status = record["status"]
        fields = {k: record[k] for k in RECORDED if k in record}
        self.manifest.update(run.name, status=status, **fields)
        self.result.statuses[run.name] = status
        self.display.finished(run.name, status, record.get("error", ""))


def sweep_status(out: str | Path) -> dict[str, Any]:
    """The manifest's view of a sweep folder, checked against the run folders."""
    out = Path(out)
    manifest = open_sweep(out)
    store, checkpoints = RunStore(out), Checkpoints(out)
    live = is_locked(out)
    runs = {}
    for name, entry in manifest["runs"].items():
        status = entry["status"]
        record = store.read(name)
        if status == "done" and (record is None or record.get("key") != entry["key"]):
            status = "missing"  # the folder was removed or altered since
        elif status == "running" and not live:
            status = "interrupted"
        runs[name] = {**entry, "status": status}
        if status != "done" and (step := checkpoints.saved_step(name)) is not None:
            runs[name]["checkpoint_step"] = step
    counts: dict[str, int] = {}
    for entry in runs.values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {"out": str(out), "experiment": manifest.get("experiment"), "live": live,
            "counts": counts, "runs": runs, "sweeps": manifest.get("sweeps", [])}
