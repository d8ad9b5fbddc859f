"""The Ray backend (local mode) runs the tiny sweep into the same layout with the same results
as the local backend."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import alignscope
from alignscope.experiments.sweep import run_sweep

ray = pytest.importorskip("ray", reason="the Ray backend needs the `ray` extra")


@pytest.fixture
def local_ray(monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> Iterator[None]:
    # Ray's workers are new processes: they must import this checkout and use this cache.
    source = str(Path(alignscope.__file__).parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"ALIGNSCOPE_CACHE": str(private_cache),
                                       "PYTHONPATH": source}})
    yield
    ray.shutdown()


def results(out: Path) -> dict[str, Any]:
    found = {}
    for path in sorted((out / "runs").glob("*/finetune/results.json")):
        data = json.loads(path.read_text())
        found[path.parts[-3]] = ([e["metrics"] for e in data["evaluations"]],
                                 data["training"]["history"])
    return found


def layout(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if ".sweep.lock" not in p.name)


@pytest.mark.slow  # a Ray cluster starts: half a minute and more
def test_ray_gives_the_local_results(full_experiment: dict[str, Any], full_sweep: Path,
                                     tmp_path: Path, local_ray: None) -> None:
    """The same experiment as the local `full_sweep`, analyses included."""
    distributed = run_sweep(full_experiment, tmp_path / "ray", backend="ray", progress=False)
    assert set(distributed.statuses.values()) == {"done"}
    assert results(tmp_path / "ray") == results(full_sweep)
    assert layout(tmp_path / "ray") == layout(full_sweep)
    for name in ("similarity.csv", "correlation.csv"):  # analyses of the same models agree
        assert (tmp_path / "ray/results" / name).read_text() == \
            (full_sweep / "results" / name).read_text()
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["sweeps"][-1]["backend"] == "ray"
