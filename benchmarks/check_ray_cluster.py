"""Issue 20's second check, by hand: a two-node Ray cluster on this machine (Ray's
`ray.cluster_utils.Cluster`: a head and a worker node, one CPU each, both on 127.0.0.1), an
8-run sweep of a tiny model driven from the command line (`alignscope sweep --backend ray
--address`), the worker node removed once two runs have checkpoints (one of them is on it);
the sweep must finish on the head node and its scores equal the local backend's.

    python benchmarks/check_ray_cluster.py --data-dir ../shared/data --out /tmp/check-ray

(On one machine a second `ray start --address 127.0.0.1:PORT` cannot join a loopback-bound
head: Ray rewrites the loopback address to the interface address; docs/experiments.md.)
Prints the manifest's view of the runs, which resumed from a checkpoint, and whether every
run's metrics and training history equal the local sweep's; exits 1 if not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sweep_load import check_workspace  # a 4-layer BERT, a vocabulary of EWT


def experiment(model: Path, data: Path) -> dict[str, Any]:
    """REF and three groups x 2 seeds; 24 steps a run, a checkpoint every 2."""
    return {"name": "ray-check", "model": str(model), "data_dir": str(data), "seeds": [1, 2],
            "threads": 1, "device": "cpu",
            "tasks": {"pos": {"source": "ud:en_ewt", "targets": ["ud:fr_pud"]}},
            "random_init": {"reference": True,
                            "groups": ["block.0-1", "block.2-3", "embeddings"]},
            "finetune": {"epochs": 3, "batch_size": 4, "max_train_sentences": 32,
                         "max_dev_sentences": 8, "max_eval_sentences": 16, "lr": 0.001,
                         "checkpoint_every": 2}}


def scores(out: Path) -> dict[str, Any]:
    found = {}
    for path in (out / "runs").glob("*/finetune/results.json"):
        result = json.loads(path.read_text())
        found[path.parts[-3]] = ([e["metrics"] for e in result["evaluations"]],
                                 result["training"]["history"],
                                 result["training"]["resumed_at_steps"])
    return found


def main() -> None:
    data, out = check_workspace(__doc__, "/tmp/check-ray")
    for name in ("ray", "local"):
        shutil.rmtree(out / name, ignore_errors=True)
    config = out / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment(out / "model", data)))
    # The nodes' workers import this checkout (they inherit the environment).
    os.environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray import cluster_utils

    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.1", "num_cpus": 1, "include_dashboard": False})
    try:
        worker = cluster.add_node(node_ip_address="127.0.0.1", num_cpus=1)
        cluster.wait_for_nodes()
        started = time.monotonic()
        driver = subprocess.Popen(
            [sys.executable, "-m", "alignscope", "sweep", str(config), "--out",
             str(out / "ray"), "--backend", "ray", "--address", cluster.address, "--jobs",
             "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while driver.poll() is None:
            states = list((out / "ray" / "resume").glob("*/state.json"))
            if len(states) >= 2:  # two runs in flight, one per node, both checkpointed
                cluster.remove_node(worker)
                print(f"worker node removed at {time.monotonic() - started:.0f} s; "
                      f"checkpointed then: {sorted(p.parent.name for p in states)}")
                break
            time.sleep(0.1)
        output, _ = driver.communicate(timeout=1800)
        print(f"driver exit {driver.returncode} after {time.monotonic() - started:.0f} s: "
              f"{' '.join(output.split()[-14:])}")
    finally:
        cluster.shutdown()
    manifest = json.loads((out / "ray" / "manifest.json").read_text())
    print({name: (run["status"], run.get("node_ip")) for name, run in manifest["runs"].items()})
    ray_scores = scores(out / "ray")
    print("resumed from a checkpoint:", {n: s[2] for n, s in ray_scores.items() if s[2]})
    subprocess.run([sys.executable, "-m", "alignscope", "sweep", str(config), "--out",
                    str(out / "local"), "--jobs", "2", "--no-progress"], check=True,
                   capture_output=True)
    local_scores = scores(out / "local")
    equal = {n: s[:2] for n, s in ray_scores.items()} == \
        {n: s[:2] for n, s in local_scores.items()}
    print(f"{len(ray_scores)} runs; metrics and histories equal the local backend's: {equal}")
    if driver.returncode != 0 or len(ray_scores) != 8 or not equal:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
