"""The Ray backend (local mode) runs the tiny sweep into the same layout with the same results
as the local backend."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
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


def test_ray_gives_the_local_results(experiment: Callable[..., dict[str, Any]], tmp_path: Path,
                                     local_ray: None) -> None:
    exp = experiment()
    local = run_sweep(exp, tmp_path / "local", progress=False)
    distributed = run_sweep(exp, tmp_path / "ray", backend="ray", progress=False)
    assert distributed.statuses == local.statuses == dict.fromkeys(local.statuses, "done")
    assert results(tmp_path / "ray") == results(tmp_path / "local")
    layout = sorted(p.relative_to(tmp_path / "local").as_posix()
                    for p in (tmp_path / "local").rglob("*") if ".sweep.lock" not in p.name)
    assert sorted(p.relative_to(tmp_path / "ray").as_posix()
                  for p in (tmp_path / "ray").rglob("*") if ".sweep.lock" not in p.name) == layout
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["sweeps"][-1]["backend"] == "ray"
