"""What validating a result on write costs: schema validation against writing the JSON, for a
large similarity result (18 targets x 25 layers x 8 measure keys x 3 conditions, intervals and
one layer matrix per language).

    python benchmarks/bench_result_validation.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alignscope.io import atomic_write_json
from alignscope.layer_names import layer_names
from alignscope.runs import make_result, write_result
from alignscope.runs.schema import ADAPTER

KEYS = ("linear", "debiased", "rbf", "debiased-rbf", "retrieval", "retrieval-forward",
        "retrieval-backward", "mexa")
CONDITIONS = ("parallel", "shuffled", "random-init")


def similarity_result(targets: int, blocks: int) -> dict:
    layers, languages = layer_names(blocks), [f"t{i}" for i in range(targets)]
    rng = random.Random(0)

    def curve() -> list[float]:
        return [rng.random() for _ in layers]

    body = {"target_languages": languages, "measures": list(KEYS), "conditions": list(CONDITIONS),
            "layers": layers,
            "results": {k: {c: {lang: curve() for lang in languages} for c in CONDITIONS}
                        for k in KEYS},
            "intervals": {k: {lang: [[v - 0.1, v + 0.1] for v in curve()] for lang in languages}
                          for k in KEYS},
            "layer_matrix": {"linear": {lang: [curve() for _ in layers] for lang in languages}}}
    return make_result("similarity", body, source_language="en", random_init=[],
                       model={"name": "synthetic", "source": None}, config={})


def median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    result = similarity_result(targets=18, blocks=24)
    folder = Path(tempfile.mkdtemp())
    # Interleaved A B B A so that load changes during the run hit both alike.
    figures = {"validate": [], "json write": [], "write_result": []}
    for order in (("validate", "json write", "write_result"),
                  ("write_result", "json write", "validate")):
        for name in order:
            action = {"validate": lambda: ADAPTER.validate_python(result),
                      "json write": lambda: atomic_write_json(folder / "plain.json", result),
                      "write_result": lambda: write_result(folder, result)}[name]
            figures[name].append(median_ms(action, args.repeats))
    for name, values in figures.items():
        print(f"{name:>12}: {statistics.mean(values):8.2f} ms (median of {args.repeats}, "
              "two interleaved passes)")


if __name__ == "__main__":
    main()
