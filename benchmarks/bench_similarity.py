"""Speed of `alignscope similarity` against the authors' released procedure (issue 3).

One run, one process, same machine and model, 1000 PUD sentences x 13 languages (en + 12
targets) x all 13 hidden states:

* authors   `authors_baseline.measure_similarity`: one sentence per forward pass, numpy
            Gram-matrix RBF CKA, the released sampling (see that module).
* preset    `run_similarity(preset="authors")` with every measure: the same RBF values,
            batched; only the sentences the released windows read are extracted.
* default   `run_similarity()` with every measure (linear, debiased, RBF, debiased RBF CKA
            and retrieval) on all 1000 sentences of every language, cache cold.
* cached    the same again: features come from the disk cache.
Controls are off in the timed runs (the authors' procedure has none).

It also times a large float32 matmul, the machine's practical FLOP limit, and reports the
extraction's achieved FLOP rate (matmul FLOPs of the padded batches / forward time) as a share
of it. A benchmark, not a test: nothing here asserts.

    .venv/bin/python benchmarks/bench_similarity.py --model ~/.cache/alignscope/e5-small \
        --out runs/bench_similarity.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
TARGETS = ("fr", "de", "es", "ru", "ar", "hi", "tr", "fi", "id", "ja", "ko", "zh")
ALL_MEASURES = ("linear", "debiased", "rbf", "debiased-rbf", "retrieval")


def matmul_rate(size: int = 4096, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of a size x size matmul on this machine (torch's threads)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def run_ours(model: str, data_dir: Path, sentences: int, **changes: Any) -> tuple[dict, float]:
    config = SimilarityConfig(model=model, targets=TARGETS, source="en", data_dir=str(data_dir),
                              max_sentences=sentences, controls=(), device="cpu", **changes)
    return timed(run_similarity, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(Path("~/.cache/alignscope/e5-small").expanduser()))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--skip-authors", action="store_true", help="only time alignscope")
    parser.add_argument("--cache", type=Path, default=None,
                        help="a new, empty feature cache folder to keep (default: a temp one)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_similarity.json")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "model": args.model, "sentences": args.sentences, "languages": ["en", *TARGETS],
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "cuda": torch.cuda.is_available(), "load_at_start": os.getloadavg()},
        "torch": torch.__version__,
    }
    if args.cache is not None and args.cache.exists() and any(args.cache.iterdir()):
        parser.error(f"--cache {args.cache} is not empty: the timed runs need a cold cache")
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-similarity-cache-"))
    os.environ["ALIGNSCOPE_CACHE"] = str(cache)
    report["matmul_gflops"] = matmul_rate()
    print(f"matmul 4096^2 float32: {report['matmul_gflops']:.1f} GFLOP/s", flush=True)

    preset, preset_seconds = run_ours(args.model, args.data_dir, args.sentences,
                                      preset="authors", measures=ALL_MEASURES, use_cache=False)
    report["preset_seconds"] = preset_seconds
    print(f"alignscope --preset authors: {preset_seconds:.1f} s", flush=True)

    default, default_seconds = run_ours(args.model, args.data_dir, args.sentences,
                                        measures=ALL_MEASURES)
    stats = default["extraction"]["model"]
    report["default_seconds"] = default_seconds
    report["default_extraction"] = stats
    report["flop_share"] = stats["gflops_per_second"] / report["matmul_gflops"]
    print(f"alignscope default, all measures, cold cache: {default_seconds:.1f} s "
          f"(extraction {stats['seconds']:.1f} s, {stats['gflops_per_second']:.1f} GFLOP/s = "
          f"{100 * report['flop_share']:.0f} % of matmul)", flush=True)

    cached, cached_seconds = run_ours(args.model, args.data_dir, args.sentences,
                                      measures=ALL_MEASURES)
    report["cached_seconds"] = cached_seconds
    report["cache_hits"] = cached["extraction"]["model"]["cache_hits"]
    print(f"alignscope default, warm cache: {cached_seconds:.1f} s", flush=True)
    report["default_curves"] = {key: default["results"][key]["parallel"]
                                for key in default["results"]}

    if not args.skip_authors:
        files = {lang: ud_treebanks(args.data_dir)[f"{lang}_pud"]["test"]
                 for lang in ("en", *TARGETS)}
        authors, authors_seconds = timed(measure_similarity, args.model, files, "en",
                                         list(TARGETS), n_sent_total=args.sentences)
        report["authors_seconds"] = authors_seconds
        ours = preset["results"]["rbf"]["parallel"]
        # The script numbers hidden states: its layer_i is our preset["layers"][i].
        differences = [abs(authors[f"en-{lang}"][f"layer_{index}"]["cka_mean"] - ours[lang][index])
                       for lang in TARGETS for index in range(len(preset["layers"]))]
        report["max_abs_difference"] = max(differences)
        report["speedup_preset"] = authors_seconds / preset_seconds
        report["speedup_default"] = authors_seconds / default_seconds
        # Per window the script encodes the source, then every language again, source included.
        encoded_sets = len(TARGETS) + 2
        forwards = encoded_sets * (args.sentences // 4) * (args.sentences // (args.sentences // 4))
        report["authors_sentences_per_second"] = forwards / authors_seconds
        report["our_sentences_per_second"] = stats["sentences"] / stats["seconds"]
        print(f"authors' procedure: {authors_seconds:.1f} s; max |difference| with the preset "
              f"{report['max_abs_difference']:.2e}; speed-up preset "
              f"{report['speedup_preset']:.1f}x, default {report['speedup_default']:.1f}x",
              flush=True)
    report["machine"]["load_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
