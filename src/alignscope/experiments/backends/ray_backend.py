"""A Ray cluster (extra `ray`): each run is a Ray task with a (fractional) GPU, or one CPU on a
cluster without GPUs. A task works in a private temporary folder on its node and returns the
folder packed as a tar archive, which the driver unpacks into the sweep's layout, so nodes
need no shared filesystem and the folders look exactly as with the local backend.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from alignscope.errors import ConfigError
from alignscope.experiments.execute import execute_run
from alignscope.experiments.plan import RunSpec


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def _unpack(data: bytes, folder: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        archive.extractall(folder, filter="data")


def run_task(run: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The Ray task: the run in a temporary folder, returned as (record, tar archive)."""
    import ray

    with tempfile.TemporaryDirectory(prefix="alignscope-run-") as work:
        record = execute_run(RunSpec.from_dict(run), Path(work))
        record.update(node=ray.get_runtime_context().get_node_id(),
                      node_ip=ray.util.get_node_ip_address())
        return record, _pack(Path(work)) if record["status"] == "done" else b""


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def loopback_address(address: str | None) -> bool:
    return address is not None and "://" not in address and \
        address.rpartition(":")[0] in _LOOPBACK


@contextlib.contextmanager
def on_loopback() -> Any:
    """`ray.init` on 127.0.0.1: Ray rewrites a loopback address to this machine's interface
    address, where a cluster bound to loopback (`ray start --node-ip-address 127.0.0.1`) does
    not listen (ray-project/ray#59110), and binds a new instance there, unless it thinks
    clusters are off."""
    from ray._private import ray_constants

    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    saved, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


class RayBackend:
    def __init__(self, address: str | None = None, jobs: int | None = None,
                 runs_per_device: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--backend ray needs Ray: pip install 'alignscope[ray]'") from None
        if not ray.is_initialized():
            try:
                with on_loopback() if loopback_address(address) else contextlib.nullcontext():
                    ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise ConfigError(f"--address {address}: no Ray cluster could be reached "
                                  f"({str(error).splitlines()[0]})",
                                  "start one (`ray start --head`), or check the address "
                                  "(HOST:PORT of its head node, or auto)") from None
        gpus = ray.cluster_resources().get("GPU", 0)
        self.resources = {"num_gpus": 1 / runs_per_device, "num_cpus": 1} if gpus \
            else {"num_cpus": 1}
        capacity = int(gpus * runs_per_device) if gpus else \
            int(ray.cluster_resources().get("CPU", 1))
        self.limit = jobs or max(capacity, 1)
        self.remote = ray.remote(run_task).options(**self.resources)
        self.in_flight = 0
        self.address = address
        self.driver_ip = ray.util.get_node_ip_address()

    def describe(self) -> dict[str, Any]:
        return {"backend": "ray", "address": self.address, "driver_ip": self.driver_ip,
                "jobs": self.limit, "resources_per_run": self.resources}

    def free(self) -> bool:
        return self.in_flight < self.limit

    def submit(self, run: RunSpec, work: Path) -> Future[Any]:
        self.in_flight += 1
        # "auto": the task sees only the GPU Ray gave it (CUDA_VISIBLE_DEVICES).
        run = RunSpec(run.name, run.kind, run.config, run.labels,
                      {**run.runtime, "device": run.runtime.get("device", "auto")}, run.deps)
        return self.remote.remote(run.to_dict()).future()

    def finish(self, work: Path, result: Any) -> dict[str, Any]:
        self.in_flight -= 1
        if isinstance(result, dict):  # the task itself was lost
            return result
        record, archive = result
        if record["status"] == "done":
            _unpack(archive, work)
        return record

    def close(self) -> None:
        """The cluster stays up: it is the user's (or `ray.init`'s caller's)."""
