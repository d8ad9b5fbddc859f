"""Sweeps resume: killed at any point they leave no result for unfinished runs, and the next
sweep runs exactly those; finished results stay byte for byte; bad folders are never read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import alignscope
from alignscope.errors import ConfigError
from alignscope.experiments import execute
from alignscope.experiments.aggregate import collect, finished_runs
from alignscope.experiments.store import RUN_FILE, RunConflictError
from alignscope.experiments.sweep import prepare, run_sweep, sweep_status

Experiment = Callable[..., dict[str, Any]]
ALL_RUNS = {"pos-REF-s1", "pos-REF-s2", "pos-block.0-1-s1", "pos-block.0-1-s2"}


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file of every finished run folder."""
    return {str(path.relative_to(out)): path.read_bytes()
            for path in sorted((out / "runs").glob("[!.]*/**/*")) if path.is_file()}


def finished(out: Path) -> set[str]:
    return {record["name"] for record, _ in finished_runs(out)}


def sweep_until(config: Path, out: Path, condition: Callable[[], bool]) -> None:
    """Run `alignscope sweep` in a subprocess and SIGKILL it as soon as `condition` holds."""
    env = {**os.environ, "PYTHONPATH": str(Path(alignscope.__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-c", "from alignscope.cli import app; app()", "sweep", str(config),
         "--out", str(out), "--no-progress"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and not condition():
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.slow  # three sweeps, two of them killed
def test_sigkill_at_several_points_then_resume(experiment: Experiment, tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment()), encoding="utf-8")
    out = tmp_path / "out"
    work = out / "runs"

    def in_progress() -> bool:
        return any(work.glob(".*.tmp/finetune")) if work.exists() else False

    # 1: while the first run is being worked on; 2: just after a run was sealed.
    sweep_until(config, out, in_progress)
    assert finished(out) == set()
    sweep_until(config, out, lambda: bool(finished(out)))
    before, done = snapshot(out), finished(out)
    assert set() < done < ALL_RUNS  # the second kill came after a run was sealed, before the last
    for name in done:  # a sealed run is whole
        assert (work / name / "finetune" / "results.json").is_file()

    result = run_sweep(config, out, progress=False)
    assert set(result.executed) == ALL_RUNS - done
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k.split("/")[1] in done} == before
    assert finished(out) == ALL_RUNS
    assert not list(work.glob(".*"))  # the interrupted runs' temporaries are gone
    assert sweep_status(out)["counts"] == {"done": 4}
    assert run_sweep(config, out, progress=False).executed == []  # nothing left to do


def copy_of(full_sweep: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(full_sweep, out)
    return out


@pytest.mark.parametrize("damage", ["truncate result", "truncate run.json", "delete run.json"])
def test_a_damaged_result_is_never_read_and_is_redone(
        full_experiment: dict[str, Any], full_sweep: Path, tmp_path: Path, damage: str) -> None:
    experiment, original = full_experiment, full_sweep
    out = copy_of(full_sweep, tmp_path)
    folder = out / "runs" / "pos-REF-s2"
    if damage == "truncate result":
        path = folder / "finetune" / "results.json"
        path.write_text(path.read_text()[:200])
    elif damage == "truncate run.json":
        (folder / RUN_FILE).write_text((folder / RUN_FILE).read_text()[:50])
    else:
        (folder / RUN_FILE).unlink()
    assert "pos-REF-s2" not in finished(out)
    assert {r["run"] for r in collect(out).scores} == ALL_RUNS - {"pos-REF-s2"}
    states = {p.run.name: p.state for p in prepare(experiment, out)[1]}
    assert states["pos-REF-s2"] == "corrupt" and states["pos-REF-s1"] == "done"

    # the correlation that read the damaged run is kept: its own result is whole
    assert run_sweep(experiment, out, progress=False).executed == ["pos-REF-s2"]
    assert list((out / "runs").glob(".pos-REF-s2.corrupt-*"))  # kept aside, not read
    # CPU runs are bit-reproducible for a seed and thread count: the redone run agrees.
    redone = json.loads((folder / "finetune" / "results.json").read_text())
    first = json.loads((original / "runs/pos-REF-s2/finetune/results.json").read_text())
    assert [e["metrics"] for e in redone["evaluations"]] == \
        [e["metrics"] for e in first["evaluations"]]


def test_a_folder_of_another_configuration_is_refused(
        full_experiment: dict[str, Any], full_sweep: Path, tmp_path: Path) -> None:
    experiment = full_experiment
    out = copy_of(full_sweep, tmp_path)
    before = snapshot(out)
    with pytest.raises(RunConflictError, match="holds a result of a different configuration"):
        run_sweep(experiment, out, overrides=["finetune.lr=0.001"], progress=False)
    assert snapshot(out) == before


def test_a_failed_run_is_recorded_and_retried_only_when_asked(
        experiment: Experiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = execute._finetune

    def failing(run: Any, work: Path) -> None:
        if run.name == "pos-block.0-1-s1":
            raise ConfigError("simulated failure")
        real(run, work)

    monkeypatch.setattr(execute, "_finetune", failing)
    out = tmp_path / "out"
    exp = experiment(seeds=[1], random_init={"reference": True, "groups": ["block.0-1"]})
    result = run_sweep(exp, out, progress=False)
    assert result.statuses == {"pos-REF-s1": "done", "pos-block.0-1-s1": "failed"}
    status = sweep_status(out)
    assert status["runs"]["pos-block.0-1-s1"]["error"] == "ConfigError: simulated failure"
    assert not (out / "runs" / "pos-block.0-1-s1").exists()
    assert run_sweep(exp, out, progress=False).executed == []
    monkeypatch.setattr(execute, "_finetune", real)
    assert run_sweep(exp, out, retry_failed=True, progress=False).executed == ["pos-block.0-1-s1"]
    assert sweep_status(out)["counts"] == {"done": 2}


def test_one_sweep_per_folder(full_experiment: dict[str, Any], full_sweep: Path,
                              tmp_path: Path) -> None:
    from alignscope.errors import AlignscopeError
    from alignscope.experiments.store import sweep_lock

    experiment = full_experiment
    out = copy_of(full_sweep, tmp_path)
    with sweep_lock(out), pytest.raises(AlignscopeError, match="another sweep is running"):
        run_sweep(experiment, out, progress=False)


def test_an_interrupted_finetune_resumes_from_its_checkpoint(
        experiment: Experiment, tmp_path: Path, killed_cli: Callable[[str, list[str]], int],
        ) -> None:
    tiny = experiment(seeds=[1], random_init={"reference": True})
    tiny["finetune"].update(epochs=3, batch_size=4, checkpoint_every=2)  # 8 steps per epoch
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny), encoding="utf-8")
    out = tmp_path / "out"
    # SIGKILL in the 7th step: the checkpoint of step 6 is on disk.
    assert killed_cli('arm(Loop, "_step", lambda calls, *a: calls == 7)',
                      ["sweep", str(config), "--out", str(out), "--no-progress"]) == -9
    assert finished(out) == set()
    [planned] = prepare(config, out)[1]
    assert (planned.state, planned.resumes_at) == ("todo", 6)
    status = sweep_status(out)["runs"]["pos-REF-s1"]
    assert (status["status"], status["checkpoint_step"]) == ("interrupted", 6)
    with pytest.raises(RunConflictError, match=r"resume/pos-REF-s1 holds the checkpoint of an "
                                               r"unfinished run .*lr: 0.002 then, 0.001 now"):
        prepare(config, out, ["finetune.lr=0.001"])

    assert run_sweep(config, out, progress=False).executed == ["pos-REF-s1"]
    assert not (out / "resume" / "pos-REF-s1").exists()
    run_sweep(config, tmp_path / "whole", progress=False)
    resumed, whole = (json.loads((folder / "runs/pos-REF-s1/finetune/results.json").read_text())
                      for folder in (out, tmp_path / "whole"))
    assert resumed["training"]["resumed_at_steps"] == [6]
    assert whole["training"]["resumed_at_steps"] == []
    assert resumed["training"]["history"] == whole["training"]["history"]
    assert [e["metrics"] for e in resumed["evaluations"]] == \
        [e["metrics"] for e in whole["evaluations"]]
