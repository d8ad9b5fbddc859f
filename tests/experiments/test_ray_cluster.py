"""A real Ray cluster of two nodes on this machine, every node and the driver on 127.0.0.1:
a sweep through `--backend ray --address` loses its worker node mid-run and finishes on the
head node, the lost run resuming from its checkpoint; then the driver is killed, and the
re-run sweep re-attaches and finishes only what is missing. Scores equal the local backend's.

The test holds the head node's CPU (an actor) until the first run has a checkpoint on the
worker node, so that the run lost with that node is known.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import alignscope
from alignscope.experiments.backends.ray_backend import on_loopback
from alignscope.experiments.sweep import run_sweep

ray = pytest.importorskip("ray", reason="the Ray backend needs the `ray` extra")
cluster_utils = pytest.importorskip("ray.cluster_utils")

LOOPBACK = "127.0.0.1"
LOST, FIRST, LATER = "pos-REF-s1", ("pos-REF-s1", "pos-REF-s2"), \
    ("pos-block.0-1-s1", "pos-block.0-1-s2")


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def listening_addresses(pids: set[int]) -> set[str]:
    """The local addresses of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.add(_address(fields[1].split(":")[0]))
    return addresses


def _address(hexadecimal: str) -> str:
    """/proc/net/tcp{,6} write an address as 32-bit words in host (little-endian) order."""
    raw = b"".join(bytes.fromhex(hexadecimal[i:i + 8])[::-1]
                   for i in range(0, len(hexadecimal), 8))
    address = ipaddress.ip_address(raw)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return str(mapped or address)


@pytest.fixture
def cluster(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Head and worker node, one CPU each, on 127.0.0.1; their workers import this checkout
    and use the test's cache (they inherit the environment)."""
    monkeypatch.setenv("PYTHONPATH", str(Path(alignscope.__file__).parents[1]))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    made = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "node_ip_address": LOOPBACK, "num_cpus": 1, "include_dashboard": False})
    try:
        made.worker = made.add_node(node_ip_address=LOOPBACK, num_cpus=1)
        made.wait_for_nodes()
        with on_loopback():  # this process is a driver too (the holder)
            ray.init(address=made.address, log_to_driver=False)
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def hold_cpu(node: str) -> Any:
    """An actor that holds the one CPU of `node` until it is killed."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=1)
    class Holder:
        def node(self) -> str:
            return ray.get_runtime_context().get_node_id()

    holder = Holder.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        node, soft=False)).remote()
    assert ray.get(holder.node.remote(), timeout=300) == node
    return holder


def sweep(config: Path, out: Path, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from alignscope.cli import app; app()", "sweep", str(config),
         "--out", str(out), "--backend", "ray", "--address", address, "--jobs", "2",
         "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str],
             what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} after 300 s")
        time.sleep(0.05)


def checkpointed(out: Path, names: tuple[str, ...]) -> bool:
    return all((out / "resume" / name / "state.json").is_file() for name in names)


def sealed(out: Path, names: tuple[str, ...]) -> bool:
    return all((out / "runs" / name / "run.json").is_file() for name in names)


def finetune_results(out: Path) -> dict[str, dict[str, Any]]:
    return {path.parts[-3]: json.loads(path.read_text())
            for path in sorted((out / "runs").glob("*/finetune/results.json"))}


@pytest.mark.slow
def test_a_sweep_survives_a_lost_node_and_a_killed_driver(
        cluster: Any, experiment: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    assert {node["NodeManagerAddress"] for node in cluster.global_state.node_table()} \
        == {LOOPBACK}
    tiny = experiment()
    tiny["finetune"].update(epochs=3, batch_size=4, checkpoint_every=2)  # 24 steps per run
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny), encoding="utf-8")
    out = tmp_path / "ray"

    # 1. With the head node's CPU held, the first run starts on the worker node; once it has
    # a checkpoint, that node goes and the head node is freed: the lost run is retried there
    # and resumes from its checkpoint.
    head = cluster.head_node.node_id
    holder = hold_cpu(head)
    driver = sweep(config, out, cluster.address)
    wait_for(lambda: checkpointed(out, (LOST,)), driver, f"checkpoint of {LOST}")
    listening = listening_addresses(descendants(os.getpid()))
    cluster.remove_node(cluster.worker)
    ray.kill(holder)
    # 2. Once those two are sealed and a later run has a checkpoint, the driver is killed.
    wait_for(lambda: sealed(out, FIRST) and any(checkpointed(out, (n,)) for n in LATER),
             driver, "the first two runs and a later checkpoint")
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = {name: (out / "runs" / name / "run.json").read_bytes()
              for name in FIRST + LATER if sealed(out, (name,))}
    assert listening == {LOOPBACK}  # the nodes, their workers and the driver

    # 3. Run again: it re-attaches to the cluster and does only the runs left.
    again = sweep(config, out, cluster.address)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    assert f"{4 - len(before)} run(s) executed, {len(before)} already done, 0 failed" in output
    assert {name: (out / "runs" / name / "run.json").read_bytes() for name in before} == before

    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["driver_ip"] for s in manifest["sweeps"]] == [LOOPBACK, LOOPBACK]
    assert {entry["node_ip"] for entry in manifest["runs"].values()} == {LOOPBACK}
    assert {entry["node"] for entry in manifest["runs"].values()} == {head}
    results = finetune_results(out)
    resumed = {name: results[name]["training"]["resumed_at_steps"] for name in results}
    assert len(resumed[LOST]) == 1 and resumed["pos-REF-s2"] == []
    assert all(step > 0 for steps in resumed.values() for step in steps)
    assert any(resumed[name] for name in LATER)  # killed with the driver, resumed after
    assert not list((out / "resume").glob("pos-*"))

    local = finetune_results(run_sweep(config, tmp_path / "local", progress=False).out)
    assert {name: ([e["metrics"] for e in r["evaluations"]], r["training"]["history"])
            for name, r in results.items()} == \
        {name: ([e["metrics"] for e in r["evaluations"]], r["training"]["history"])
         for name, r in local.items()}
