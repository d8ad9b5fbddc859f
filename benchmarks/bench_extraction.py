"""Feature-extraction efficiency as a share of the machine's float32 matmul rate (issue 17, 3b).

`FeatureExtractor` (no cache) extracts every hidden state of `--sentences` PUD sentences per
language; each run is bracketed by a 2048^2 float32 matmul timed with the same threads. The
executed matmul FLOPs of the padded batches (linear layers + QK^T and AV) per second are
reported against the matmul's rate twice:
* wall clock, as benchmarks/bench_similarity.py does; on a quiet machine this is the figure;
* process CPU time: FLOPs per CPU-second of this process against the matmul's FLOPs per
  CPU-second. Time the process spends waiting for a core while other jobs run does not count,
  so this share stays readable on a shared machine (cache and memory-bandwidth contention
  still lower both rates).
`--profile` adds a torch profile of one more run (share of time per operator).

    .venv/bin/python benchmarks/bench_extraction.py --model ~/.cache/alignscope/gemma3-270m \\
        --sentences 1000 --languages en,fr --threads 1 --rounds 2 --out runs/bench_extraction.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from alignscope.analysis.features import ExtractionOptions, FeatureExtractor
from alignscope.data.parallel import load_parallel
from alignscope.models.encoder import load_encoder

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO / ".." / "shared" / "data").resolve()


def matmul_rates(size: int = 2048, repeats: int = 3) -> tuple[float, float]:
    """Best float32 GFLOP/s of a size x size matmul: per wall second, per CPU second."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        a @ b
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - cpu_start)
    flops = 2 * size**3 / 1e9
    return flops / wall, flops / cpu


def extract(args: argparse.Namespace, encoder: Any, corpus: Any) -> dict[str, Any]:
    """Extraction statistics, with the process CPU time measured here (tokenising included),
    so that the script also times versions of alignscope that do not record it."""
    extractor = FeatureExtractor(encoder, ExtractionOptions(
        use_cache=False, batch_tokens=args.batch_tokens), torch.device("cpu"))
    cpu_start = time.process_time()
    for language in args.languages:
        extractor.extract(corpus, language)
    stats = extractor.stats.as_dict()
    stats["cpu_seconds"] = time.process_time() - cpu_start
    stats["gflops_per_cpu_second"] = stats["flops"] / stats["cpu_seconds"] / 1e9
    return stats


def one_run(args: argparse.Namespace, encoder: Any, corpus: Any) -> dict[str, Any]:
    before, load_before = matmul_rates(), os.getloadavg()[0]
    stats = extract(args, encoder, corpus)
    after = matmul_rates()
    wall, cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    record = {"load_before": load_before, "load_after": os.getloadavg()[0],
              "matmul_gflops": wall, "matmul_gflops_per_cpu_second": cpu, **stats,
              "share_of_matmul": stats["gflops_per_second"] / wall,
              "share_of_matmul_cpu_time": stats["gflops_per_cpu_second"] / cpu}
    print(f"{stats['tokens']} tokens in {stats['batches']} batches, {stats['seconds']:.1f} s: "
          f"{stats['gflops_per_second']:.1f} GFLOP/s = {record['share_of_matmul']:.0%} of the "
          f"matmul (wall); {record['share_of_matmul_cpu_time']:.0%} per CPU second; load "
          f"{load_before:.1f} -> {record['load_after']:.1f}", flush=True)
    return record


def profile(args: argparse.Namespace, encoder: Any, corpus: Any) -> list[dict[str, Any]]:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        extract(args, encoder, corpus)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count}
            for e in events[:12]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(Path("~/.cache/alignscope/gemma3-270m").expanduser()))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--languages", type=lambda v: v.split(","), default=["en", "fr"])
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_extraction.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_parallel("ud:pud", args.languages, args.data_dir).subsample(args.sentences)
    encoder = load_encoder(args.model)
    runs = [one_run(args, encoder, corpus) for _ in range(args.rounds)]
    report: dict[str, Any] = {
        "model": args.model, "sentences": len(corpus), "languages": args.languages,
        "threads": args.threads, "batch_tokens": args.batch_tokens,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "torch": torch.__version__, "runs": runs,
        "median_share_of_matmul": statistics.median(r["share_of_matmul"] for r in runs),
        "median_share_of_matmul_cpu_time": statistics.median(
            r["share_of_matmul_cpu_time"] for r in runs)}
    if args.profile:
        report["profile"] = profile(args, encoder, corpus)
        for row in report["profile"]:
            print(f"{row['op']:<60} {row['share']:6.1%} {row['calls']:>7}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"median share: {report['median_share_of_matmul']:.0%} (wall), "
          f"{report['median_share_of_matmul_cpu_time']:.0%} (CPU time); written to {args.out}")


if __name__ == "__main__":
    main()
