"""The measuring stage alone (no model, no extraction): the shuffled control and the
half-sample intervals, timed with the call pattern of every version that has it.

Procedures:
  re-prepared   the shuffled control as its own comparison on permuted features (each
                target side prepared a second time): the only way before compare_conditions
  permuted      the shuffled control inside the pairs' comparison, on permuted prepared sides
  intervals     `--half-samples`-style half-sample intervals (both versions; the newer one
                prepares each source half once for all targets)

Run it against two source trees and compare their values:
    PYTHONPATH=OLD/src python benchmarks/bench_measures.py --out old.json
    PYTHONPATH=src python benchmarks/bench_measures.py --out new.json
    python benchmarks/bench_measures.py --check old.json new.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from alignscope.analysis import compare as compare_module
from alignscope.analysis.compare import LayerSides, MeasureOptions, compare
from alignscope.analysis.controls import derangement

CPU = torch.device("cpu")
MEASURES = ("linear", "debiased", "rbf", "retrieval")


def features(layers: int, rows: int, dim: int, targets: int) -> dict[str, torch.Tensor]:
    """A source and targets sharing a latent signal that weakens with depth."""
    generator = torch.Generator().manual_seed(0)
    shared = torch.randn(layers, rows, dim, generator=generator)
    weight = torch.linspace(1.0, 0.3, layers)[:, None, None]
    sides = {"source": shared.clone()}
    for index in range(targets):
        sides[f"t{index}"] = weight * shared + torch.randn(layers, rows, dim, generator=generator)
    return sides


def values_of(comparisons: dict[str, Any]) -> dict[str, Any]:
    return {name: {"values": c.values, "intervals": c.intervals} for name, c in comparisons.items()}


def re_prepared(data: dict[str, torch.Tensor], options: MeasureOptions,
                permutation: torch.Tensor) -> dict[str, Any]:
    targets = [name for name in data if name != "source"]
    pairs = compare([LayerSides(data["source"], CPU)],
                    {name: [LayerSides(data[name], CPU)] for name in targets}, options)
    shuffled = compare([LayerSides(data["source"], CPU)],
                       {name: [LayerSides(data[name][:, permutation], CPU)] for name in targets},
                       options)
    return {"parallel": values_of(pairs), "shuffled": values_of(shuffled)}


def permuted(data: dict[str, torch.Tensor], options: MeasureOptions,
             permutation: torch.Tensor) -> dict[str, Any]:
    targets = {name: [LayerSides(data[name], CPU)] for name in data if name != "source"}
    controls = {"shuffled": {name: [sides[0].permuted(permutation)]
                             for name, sides in targets.items()}}
    results = compare_module.compare_conditions([LayerSides(data["source"], CPU)], targets,
                                                options, controls=controls)
    return {condition: values_of(by_name) for condition, by_name in results.items()}


def intervals(data: dict[str, torch.Tensor], options: MeasureOptions) -> dict[str, Any]:
    return values_of(compare([LayerSides(data["source"], CPU)],
                             {name: [LayerSides(data[name], CPU)] for name in data
                              if name != "source"}, options))


def timed(run: Callable[[], Any], repeats: int) -> tuple[Any, dict[str, list[float]]]:
    """The result, and the wall-clock and CPU seconds of each repeat (one thread: CPU time is
    what a busy machine distorts least)."""
    seconds: dict[str, list[float]] = {"wall": [], "cpu": []}
    result = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        seconds["wall"].append(time.perf_counter() - wall)
        seconds["cpu"].append(time.process_time() - cpu)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--check", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--layers", type=int, default=13)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--targets", type=int, default=5)
    parser.add_argument("--half-samples", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.check:
        check(*args.check)
        return
    torch.set_num_threads(1)
    data = features(args.layers, args.rows, args.dim, args.targets)
    permutation = derangement(args.rows, seed=0)
    plain = MeasureOptions(MEASURES)
    procedures: dict[str, Callable[[], Any]] = {
        "re-prepared": lambda: re_prepared(data, plain, permutation),
        "intervals": lambda: intervals(data, MeasureOptions(MEASURES, half_samples=args.half_samples)),
    }
    if hasattr(compare_module, "compare_conditions"):
        procedures["permuted"] = lambda: permuted(data, plain, permutation)
    report: dict[str, Any] = {"shape": vars(args) | {"out": str(args.out)}, "seconds": {},
                              "values": {}}
    for name, run in procedures.items():
        report["values"][name], seconds = timed(run, args.repeats)
        report["seconds"][name] = seconds
        print(f"{name:12s} median wall {statistics.median(seconds['wall']):7.2f} s, "
              f"cpu {statistics.median(seconds['cpu']):7.2f} s")
    if args.out:
        args.out.write_text(json.dumps(report), encoding="utf-8")


def _flatten(data: Any, prefix: str = "") -> dict[str, float]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flatten(value, f"{prefix}/{key}").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in _flatten(value, f"{prefix}/{i}").items()}
    return {prefix: data}


def check(old_path: Path, new_path: Path) -> None:
    """The newer procedures against the older version's: identical values, or how far off."""
    old = json.loads(old_path.read_text(encoding="utf-8"))["values"]
    new = json.loads(new_path.read_text(encoding="utf-8"))["values"]
    pairs = {"re-prepared": "re-prepared", "intervals": "intervals", "permuted": "re-prepared"}
    for new_name, old_name in pairs.items():
        if new_name not in new:
            continue
        a, b = _flatten(old[old_name]), _flatten(new[new_name])
        assert a.keys() == b.keys(), f"{new_name}: different keys"
        identical = sum(a[k] == b[k] for k in a)
        worst = max((abs(a[k] - b[k]) for k in a if a[k] is not None and a[k] == a[k]),
                    default=0.0)
        print(f"{new_name:12s} vs old {old_name:12s}: {identical}/{len(a)} values identical, "
              f"largest difference {worst:.3g}")


if __name__ == "__main__":
    main()
