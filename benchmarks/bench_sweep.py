"""One `alignscope sweep` against the same runs as separate `alignscope finetune` commands.

    ALIGNSCOPE_E5_DIR=~/.cache/alignscope/e5-small python benchmarks/bench_sweep.py \\
        --config configs/small/pos.yaml --set seeds=[1] --out /tmp/bench-sweep

The sweep's fine-tunes (analyses off: they are not `finetune` commands) are run first one
command per run, exactly as a user scripting the study would, then as one sweep. Both run on the
CPU with the config's thread count, so their scores must agree to the bit; the script checks
it. The sweep saves process start-up, model-config reads, and reading and tokenising every
dataset once instead of once per run. Prints the wall times and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from alignscope.experiments.plan import plan
from alignscope.experiments.spec import load_spec


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "alignscope", *args]


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/small/pos.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-sweep"))
    args = parser.parse_args()
    overrides = [*args.overrides, "analyses={}"]
    spec = load_spec(args.config, overrides)
    runs = [run for run in plan(spec) if run.kind == "finetune"]
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)

    separate = 0.0
    for run in runs:
        options = {**run.config["finetune"], "threads": spec.threads, "device": spec.device}
        config = args.out / "configs" / f"{run.name}.yaml"
        config.parent.mkdir(exist_ok=True)
        config.write_text(yaml.safe_dump(options), encoding="utf-8")
        separate += timed(command("finetune", "--config", str(config), "--out",
                                  str(args.out / "separate" / run.name), "--no-progress"))
    together = timed(command("sweep", args.config, "--out", str(args.out / "sweep"),
                             "--no-progress", *(f"--set={o}" for o in overrides)))

    for run in runs:
        one = json.loads((args.out / "separate" / run.name / "results.json").read_text())
        swept = json.loads((args.out / "sweep/runs" / run.name / "finetune/results.json")
                           .read_text())
        if [e["metrics"] for e in one["evaluations"]] != \
                [e["metrics"] for e in swept["evaluations"]]:
            raise SystemExit(f"{run.name}: the sweep's scores differ from the command's")
    print(f"{len(runs)} fine-tunes of {args.config} ({' '.join(args.overrides) or 'as is'}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"threads {spec.threads}")
    print(f"separate `alignscope finetune` commands: {separate:.1f} s")
    print(f"one `alignscope sweep`:                   {together:.1f} s")
    print(f"ratio: {separate / together:.2f}x (scores identical)")


if __name__ == "__main__":
    main()
