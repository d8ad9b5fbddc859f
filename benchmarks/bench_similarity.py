"""Speed of `alignscope similarity` against the authors' released procedure (issues 3, 8).

Both procedures run interleaved in one process, in ABBA order (authors, ours, ours, authors)
for `--rounds` rounds, each timed run with a new, empty feature cache, and medians are
reported. Threads are pinned (`--threads`, default 1) and the load average is recorded before
and after every run: on a machine shared with other jobs only the interleaved ratio is robust.

* authors  `authors_baseline.measure_similarity`: one sentence per forward pass, numpy
           Gram-matrix RBF CKA, the released sampling (see that module).
* ours     `run_similarity()` with the default measures (linear, debiased, RBF CKA and
           retrieval) on all sentences, and the `shuffled` control only ("equal work": the
           authors' procedure has no random-init control, which doubles the extraction).
           `--with-random-init` times the full default (both controls) once more, after.

Extraction efficiency: the executed matmul FLOPs of the padded batches, and the useful ones
(real tokens only), per second of forward time, as a share of a 2048^2 float32 matmul timed
right before and after each run with the same threads. `--check-preset` also runs
`--preset authors` once and reports its largest difference from the authors' values.

    .venv/bin/python benchmarks/bench_similarity.py --model ~/.cache/alignscope/e5-small \\
        --threads 1 --rounds 1 --out runs/bench_similarity.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_baseline import measure_similarity

from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.data.registry import ud_treebanks

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO / ".." / "shared" / "data").resolve()
TARGETS = ("fr", "de", "es", "ru", "zh")


def matmul_rate(size: int = 2048, repeats: int = 3) -> float:
    """Best float32 GFLOP/s of a size x size matmul with torch's current threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def run_timed(label: str, function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One timed run with its load average and the matmul rate on either side."""
    rate_before, load_before = matmul_rate(), os.getloadavg()[0]
    start = time.perf_counter()
    value = function(*args, **kwargs)
    seconds = time.perf_counter() - start
    record = {"procedure": label, "seconds": seconds, "load_before": load_before,
              "load_after": os.getloadavg()[0],
              "matmul_gflops": (rate_before + matmul_rate()) / 2, "value": value}
    print(f"{label}: {seconds:.1f} s (load {load_before:.1f} -> {record['load_after']:.1f})",
          flush=True)
    return record


def ours(args: argparse.Namespace, controls: tuple[str, ...], **changes: Any) -> dict[str, Any]:
    os.environ["ALIGNSCOPE_CACHE"] = tempfile.mkdtemp(prefix="bench-similarity-cache-")
    config = SimilarityConfig(model=args.model, targets=args.targets, source="en",
                              data_dir=str(args.data_dir), max_sentences=args.sentences,
                              controls=controls, device="cpu", **changes)
    return run_similarity(config)


def extraction_figures(record: dict[str, Any]) -> dict[str, Any]:
    stats = record["value"]["extraction"]["model"]
    return {"seconds": stats["seconds"], "sentences": stats["sentences"],
            "tokens": stats["tokens"], "padded_tokens": stats["padded_tokens"],
            "batches": stats["batches"],
            "sentences_per_second": stats["sentences"] / stats["seconds"],
            "gflops_per_second": stats["gflops_per_second"],
            "useful_gflops_per_second": stats["useful_gflops_per_second"],
            "share_of_matmul": stats["gflops_per_second"] / record["matmul_gflops"],
            "useful_share_of_matmul": stats["useful_gflops_per_second"] / record["matmul_gflops"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(Path("~/.cache/alignscope/e5-small").expanduser()))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--targets", type=lambda v: tuple(v.split(",")), default=TARGETS)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds")
    parser.add_argument("--with-random-init", action="store_true")
    parser.add_argument("--check-preset", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_similarity.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = {lang: ud_treebanks(args.data_dir)[f"{lang}_pud"]["test"]
             for lang in ("en", *args.targets)}

    def authors() -> Any:
        return measure_similarity(args.model, files, "en", list(args.targets),
                                  n_sent_total=args.sentences)

    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        runs.append(run_timed("authors", authors))
        runs.append(run_timed("ours", ours, args, ("shuffled",)))
        runs.append(run_timed("ours", ours, args, ("shuffled",)))
        runs.append(run_timed("authors", authors))
    medians = {name: statistics.median(r["seconds"] for r in runs if r["procedure"] == name)
               for name in ("authors", "ours")}
    report: dict[str, Any] = {
        "model": args.model, "sentences": args.sentences, "targets": list(args.targets),
        "threads": args.threads, "rounds": args.rounds, "order": "ABBA",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "torch": torch.__version__, "medians": medians,
        "speedup_equal_work": medians["authors"] / medians["ours"],
        "runs": [{k: v for k, v in r.items() if k != "value"} for r in runs],
        "extraction": [extraction_figures(r) for r in runs if r["procedure"] == "ours"],
    }
    # Per window the script encodes the source, then every language again, source included.
    forwards = (len(args.targets) + 2) * (args.sentences // (args.sentences // 4)) \
        * (args.sentences // 4)
    report["authors_sentences_per_second"] = forwards / medians["authors"]
    print(f"medians: authors {medians['authors']:.1f} s, ours {medians['ours']:.1f} s = "
          f"{report['speedup_equal_work']:.2f}x", flush=True)
    if args.with_random_init:
        full = run_timed("ours+random-init", ours, args, ("shuffled", "random-init"))
        report["with_random_init"] = {k: v for k, v in full.items() if k != "value"}
    if args.check_preset:
        authors_values = next(r for r in runs if r["procedure"] == "authors")["value"]
        preset = run_timed("preset authors", ours, args, (), preset="authors",
                           measures=("rbf",), cache=False)
        ours_values = preset["value"]["results"]["rbf"]["parallel"]
        report["preset_seconds"] = preset["seconds"]
        # The script numbers hidden states: its layer_i is our layers[i] (embeddings, block.0 ...).
        report["preset_max_abs_difference"] = max(
            abs(authors_values[f"en-{lang}"][f"layer_{index}"]["cka_mean"] - ours_values[lang][index])
            for lang in args.targets for index in range(len(preset["value"]["layers"])))
        print(f"preset max |difference| {report['preset_max_abs_difference']:.2e}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
