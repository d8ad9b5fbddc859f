"""The Ray backend (a single-node Ray instance on 127.0.0.1) runs the tiny sweep into the same
layout with the same results as the local backend."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import alignscope
from alignscope.experiments.backends.ray_backend import on_loopback
from alignscope.experiments.sweep import run_sweep

ray = pytest.importorskip("ray", reason="the Ray backend needs the `ray` extra")


@pytest.fixture
def local_ray(monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> Iterator[None]:
    # Ray's workers are new processes: they must import this checkout and use this cache.
    source = str(Path(alignscope.__file__).parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]))
    with on_loopback():  # tests stay on 127.0.0.1
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"ALIGNSCOPE_CACHE": str(private_cache),
                                           "PYTHONPATH": source}})
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    yield
    ray.shutdown()


def results(out: Path, names: set[str]) -> dict[str, Any]:
    found = {}
    for path in sorted((out / "runs").glob("*/finetune/results.json")):
        data = json.loads(path.read_text())
        if path.parts[-3] in names:
            found[path.parts[-3]] = ([e["metrics"] for e in data["evaluations"]],
                                     data["training"]["history"])
    return found


def layout(out: Path, names: set[str]) -> list[str]:
    """Every file and folder of the runs named, and the sweep's own files but its tables."""
    paths = [p.relative_to(out).as_posix() for p in out.rglob("*")
             if ".sweep.lock" not in p.name]
    return sorted(p for p in paths if not p.startswith("results/") and
                  (not p.startswith("runs/") or p.split("/")[1] in names))


def rows(table: Path, names: set[str]) -> list[dict[str, str]]:
    with table.open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["run"] in names]


@pytest.mark.slow  # a Ray cluster starts: half a minute and more
def test_ray_gives_the_local_results(full_experiment: dict[str, Any], full_sweep: Path,
                                     tmp_path: Path, local_ray: None) -> None:
    """One seed of the local `full_sweep`'s experiment, analyses included (kept small for CI)."""
    out = tmp_path / "ray"
    distributed = run_sweep(full_experiment, out, overrides=["seeds=[1]"], backend="ray",
                            progress=False)
    names = set(distributed.statuses)
    assert set(distributed.statuses.values()) == {"done"} and len(names) == 4
    assert results(out, names) == results(full_sweep, names)
    assert layout(out, names) == layout(full_sweep, names)
    for name in ("similarity.csv", "correlation.csv"):  # analyses of the same models agree
        assert rows(out / "results" / name, names) == rows(full_sweep / "results" / name, names)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sweeps"][-1]["backend"] == "ray"
