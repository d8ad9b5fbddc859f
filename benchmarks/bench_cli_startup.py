"""How fast the CLI answers `--help`: the median of N fresh processes per command.

    python benchmarks/bench_cli_startup.py [--runs 5] [--baseline OTHER/src]

Each run is a new interpreter (`python -m alignscope ... --help`, source tree on PYTHONPATH), so
the figure includes Python's own start-up. With `--baseline`, the same commands run from
another source tree (e.g. an older checkout), interleaved A B B A so that machine load falls on
both alike. Prints one line per command and tree, and `python -X importtime`'s ten most
expensive imports of `alignscope --help`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ([], ["finetune"], ["similarity"], ["sweep", "run"], ["lab", "pretrain"], ["demo"])


def timed(source: Path, command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(source)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "alignscope", *command, "--help"], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def slowest_imports(source: Path, count: int = 10) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "alignscope", "--help"],
                          env=env, check=True, capture_output=True, text=True)
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")
            and "cumulative" not in line]
    rows.sort(key=lambda row: -int(row[1]))
    return [f"{int(row[1]) / 1000:7.1f} ms  {row[2].rstrip()}" for row in rows[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another source tree to compare with")
    args = parser.parse_args()
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    seconds: dict[tuple[str, str], list[float]] = {}
    for run in range(args.runs):
        order = list(trees) if run % 2 == 0 else list(reversed(trees))
        for command in COMMANDS:
            for name in order:
                seconds.setdefault((name, " ".join(command)), []).append(
                    timed(trees[name], list(command)))
    for (name, command), values in seconds.items():
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"{name:9s} alignscope {command + ' ' if command else ''}--help: median "
              f"{statistics.median(values):.3f} s over {len(values)} ({runs})")
    print("cumulative import time of `alignscope --help` (this tree):")
    for line in slowest_imports(trees["this"]):
        print("  " + line)


if __name__ == "__main__":
    main()
