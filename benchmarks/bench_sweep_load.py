"""A sweep of many tiny runs: the driver's overhead per run and its memory over the sweep.

    python benchmarks/bench_sweep_load.py --runs 200 --jobs 2 --out /tmp/bench-load \\
        --data-dir ../shared/data

The driver is this process: `run_sweep` with the local backend, `--jobs` worker processes.
Each run fine-tunes a random 4-layer, 32-wide BERT (a 2,000-entry WordPiece vocabulary made
from English EWT) for one step on 8 sentences and scores 4 sentences of two test sets: the
runs are as small as runs get, so the driver's own costs show. Measured, per run:

- driver CPU: this process's CPU time while the scheduler runs (all its threads; the main
  thread's alone beside it): starting runs, collecting them, sealing them (hashing their files,
  run.json, rename, fsync), rewriting the manifest, divided by the runs;
- manifest: wall time in `Manifest.save` (the whole manifest rewritten atomically, fsync
  included, at every change of a run) per run, and the manifest's final size;
- sealing: wall time in `RunStore.commit` per run;
- throughput overhead: wall time x jobs / runs minus the mean run time the workers report;
- driver memory: its RSS after each run is recorded, the least-squares slope over the runs
  after the first 20 (KiB per run), and the first and last values.

Prints one JSON object (also written to OUT/load.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_checks import make_model  # the tiny BERT of the GPU suite's smoke run


def tiny_model(data: Path, out: Path) -> Path:
    from alignscope.data.conllu import read_conllu
    from alignscope.lab.tokenizer import train_wordpiece

    sentences = read_conllu(data / "ud/UD_English-EWT/en_ewt-ud-train.conllu", limit=2000)
    train_wordpiece([" ".join(s.words) for s in sentences], 2000, 128).save_pretrained(
        out / "tokenizer")
    make_model("tiny", out / "tokenizer", out / "model")
    return out / "model"


def check_workspace(doc: str, out: str) -> tuple[Path, Path]:
    """The data folder and output folder of a check script (--data-dir, --out), with the tiny
    model built in OUT/model once."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(out))
    args = parser.parse_args()
    if not (args.out / "model").is_dir():
        tiny_model(args.data_dir, args.out)
    return args.data_dir, args.out


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return covariance / sum((x - mean_x) ** 2 for x, _ in points)


class Timer:
    """Wall time spent in a method, summed over its calls."""

    def __init__(self, owner: type, name: str) -> None:
        self.seconds, self.calls = 0.0, 0
        real = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        setattr(owner, name, timed)


def experiment(model: Path, data: Path, runs: int) -> dict[str, Any]:
    return {"name": "load", "model": str(model), "data_dir": str(data),
            "seeds": list(range(1, runs + 1)),
            "tasks": {"pos": {"source": "ud:en_ewt", "targets": ["ud:fr_pud"]}},
            "random_init": {"reference": True},
            "finetune": {"epochs": 1, "batch_size": 8, "max_train_sentences": 8,
                         "max_dev_sentences": 4, "max_eval_sentences": 4},
            "threads": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-load"))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    model = tiny_model(args.data_dir.resolve(), args.out)

    from alignscope.experiments import sweep
    from alignscope.experiments.manifest import Manifest
    from alignscope.experiments.store import RunStore

    manifest_time, commit_time = Timer(Manifest, "save"), Timer(RunStore, "commit")
    memory: list[tuple[int, int]] = []
    record = sweep._Scheduler._record

    def recorded(self: Any, run: Any, outcome: dict[str, Any]) -> None:
        record(self, run, outcome)
        memory.append((len(self.result.statuses), rss_kib()))

    sweep._Scheduler._record = recorded  # type: ignore[method-assign]
    scheduling: dict[str, float] = {}
    schedule = sweep._Scheduler.run

    def measured(self: Any, todo: list[Any]) -> None:
        wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
        schedule(self, todo)
        scheduling.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu,
                          main_thread=time.thread_time() - main)

    sweep._Scheduler.run = measured  # type: ignore[method-assign]
    assert threading.current_thread() is threading.main_thread()
    started = time.perf_counter()
    result = sweep.run_sweep(experiment(model, args.data_dir.resolve(), args.runs),
                             args.out / "sweep", jobs=args.jobs, progress=False)
    total = time.perf_counter() - started
    statuses = set(result.statuses.values())
    manifest = json.loads((args.out / "sweep" / "manifest.json").read_text())
    seconds = [entry["seconds"] for entry in manifest["runs"].values()]
    n = len(result.executed)
    steady = [point for point in memory if point[0] > 20]
    report = {
        "runs": n, "jobs": args.jobs, "statuses": sorted(statuses),
        "sweep_wall_s": round(total, 1), "scheduler_wall_s": round(scheduling["wall"], 1),
        "mean_run_s": round(sum(seconds) / len(seconds), 3),
        "throughput_overhead_per_run_ms": round(
            1000 * (scheduling["wall"] * args.jobs / n - sum(seconds) / len(seconds)), 1),
        "driver_cpu_per_run_ms": round(1000 * scheduling["cpu"] / n, 2),
        "driver_main_thread_cpu_per_run_ms": round(1000 * scheduling["main_thread"] / n, 2),
        "manifest_saves": manifest_time.calls,
        "manifest_ms_per_run": round(1000 * manifest_time.seconds / n, 2),
        "manifest_ms_per_save": round(1000 * manifest_time.seconds / manifest_time.calls, 3),
        "manifest_kib": round((args.out / "sweep" / "manifest.json").stat().st_size / 1024, 1),
        "commit_ms_per_run": round(1000 * commit_time.seconds / n, 2),
        "rss_first_mib": round(memory[0][1] / 1024, 1),
        "rss_last_mib": round(memory[-1][1] / 1024, 1),
        "rss_max_mib": round(max(kib for _, kib in memory) / 1024, 1),
        "rss_slope_kib_per_run_after_20": round(slope(steady), 2) if len(steady) > 2 else None,
        "driver_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_run": memory,
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    (args.out / "load.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "rss_after_run"}, indent=1))
    if statuses != {"done"}:
        raise SystemExit(f"not every run finished: {sorted(statuses)}")


if __name__ == "__main__":
    main()
