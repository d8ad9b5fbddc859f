"""Pieces of benchmarks/gpu_suite.sh that no other benchmark covers.

    gpu_checks.py prepare --size mbert|tiny --tokenizer DIR --data-dir DATA --sentences N --out DIR
        DIR/model: a BERT with random weights (mBERT's sizes, or 4 tiny blocks for --smoke)
        saved with the tokenizer of DIR (the GPU machine needs no hub access), and DIR/pos7.yaml:
        the POS sweep of REF + every block pair, 1 seed (7 groups on mBERT, 3 with --smoke),
        timed with --runs-per-device 1 vs 4
    gpu_checks.py extraction --model DIR --device cuda --data-dir DATA --sentences N --out JSON
        `similarity` extraction FLOP/s as a share of a large matmul in the same precision
        (bf16 autocast on CUDA, float32 on CPU), and `--preset authors` against the authors'
        one-sentence-per-forward procedure (benchmarks/authors_baseline.py, CPU only)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

TARGETS = ("fr", "de", "ru", "ja")
MBERT = {"vocab_size": 119547, "hidden_size": 768, "num_hidden_layers": 12,
         "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512}
TINY = {"vocab_size": 0, "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 512}


def make_model(size: str, tokenizer_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    sizes = dict(MBERT if size == "mbert" else TINY)
    sizes["vocab_size"] = max(sizes["vocab_size"], len(tokenizer))
    torch.manual_seed(0)
    BertModel(BertConfig(**sizes, pad_token_id=tokenizer.pad_token_id or 0)).save_pretrained(out)
    tokenizer.model_max_length = sizes["max_position_embeddings"]  # the authors' 200 tokens fit
    tokenizer.save_pretrained(out)


def matmul_rate(device: str, size: int) -> float:
    """GFLOP/s of a size^2 matmul: bf16 on CUDA, float32 on the CPU."""
    import torch

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    repeats = 20
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def extraction(args: argparse.Namespace) -> dict[str, Any]:
    from alignscope.analysis.similarity import SimilarityConfig, run_similarity
    from alignscope.data.registry import ud_treebanks

    cuda = args.device.startswith("cuda")
    if not cuda:  # a shared CPU: one thread is several times faster than oversubscribing
        import torch

        torch.set_num_threads(1)
    report: dict[str, Any] = {"device": args.device, "sentences": args.sentences,
                              "matmul_gflops": matmul_rate(args.device, 8192 if cuda else 1024)}
    config = SimilarityConfig(model=str(args.model), targets=TARGETS, data_dir=str(args.data_dir),
                              max_sentences=args.sentences, controls=(), measures=("linear",),
                              device=args.device, precision="bf16" if cuda else "fp32",
                              cache=False)
    result = run_similarity(config)
    stats = result["extraction"]["model"]
    report.update(extraction=stats, flop_share=stats["gflops_per_second"]
                  / report["matmul_gflops"])
    started = time.perf_counter()
    preset = run_similarity(SimilarityConfig(model=str(args.model), targets=TARGETS,
                                             data_dir=str(args.data_dir), preset="authors",
                                             max_sentences=args.sentences, controls=(),
                                             device=args.device, cache=False))
    report["preset_seconds"] = time.perf_counter() - started
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from authors_baseline import measure_similarity

    files = {lang: ud_treebanks(args.data_dir)[f"{lang}_pud"]["test"] for lang in ("en", *TARGETS)}
    started = time.perf_counter()
    authors = measure_similarity(str(args.model), files, "en", list(TARGETS),
                                 n_sent_total=args.sentences)
    report["authors_seconds_cpu"] = time.perf_counter() - started
    ours = preset["results"]["rbf"]["parallel"]
    report["max_abs_difference"] = max(
        abs(authors[f"en-{lang}"][f"layer_{layer}"]["cka_mean"] - ours[lang][layer])
        for lang in TARGETS for layer in range(len(preset["layers"])))
    return report


def sweep_config(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    return {"name": "gpu-pos7", "model": str(model), "data_dir": str(args.data_dir),
            "seeds": [1], "threads": 1 if args.size == "tiny" else None,
            "tasks": {"pos": {"source": "ud:en_ewt",
                              "targets": [f"ud:{lang}_pud" for lang in TARGETS]}},
            "random_init": {"reference": True, "window": 2},
            "finetune": {"epochs": 1, "max_train_sentences": args.sentences,
                         "max_dev_sentences": max(args.sentences // 10, 4),
                         "max_eval_sentences": max(args.sentences // 4, 8)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["prepare", "extraction"])
    parser.add_argument("--size", choices=["mbert", "tiny"], default="mbert")
    parser.add_argument("--tokenizer", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.what == "prepare":
        make_model(args.size, args.tokenizer, args.out / "model")
        (args.out / "pos7.yaml").write_text(yaml.safe_dump(sweep_config(args, args.out / "model")),
                                            encoding="utf-8")
    else:
        report = extraction(args)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"extraction {report['extraction']['gflops_per_second']:.1f} GFLOP/s = "
              f"{100 * report['flop_share']:.0f} % of a matmul ({report['matmul_gflops']:.0f} "
              f"GFLOP/s); --preset authors {report['preset_seconds']:.1f} s vs the authors' "
              f"procedure {report['authors_seconds_cpu']:.1f} s (CPU), max |difference| "
              f"{report['max_abs_difference']:.1e}")


if __name__ == "__main__":
    main()
