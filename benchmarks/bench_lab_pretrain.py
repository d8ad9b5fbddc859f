"""Masked-LM pretraining speed of `alignscope lab pretrain` against a plain Hugging Face loop
(issue 16), on the same model, tokenizer, corpus, batch size and optimiser settings.

* hf: `BertForMaskedLM` (built exactly as `lab pretrain` builds it) fed by a torch
  `DataLoader` over the tokenised sentences (random order) with
  `DataCollatorForLanguageModeling` (`--mask-prob` masking on the fly, dynamic padding to the longest
  sentence of the batch), `model(**batch).loss` (logits at every position), AdamW
  (torch's default implementation), linear warmup and decay, clipping at 1.0.
* alignscope: `alignscope.lab.pretrain.pretrain` (length-bucketed epochs, no attention mask
  when nothing is padded, logits at the masked positions only, fused AdamW). Its
  `tokens_per_second` counts the training loop only (held-out scoring and checkpoints are
  timed apart).

Tokens/CPU-second = real (non-padding) tokens of the batches trained on / CPU seconds of the
training loop (batch building included for both; CPU time, which other jobs on a shared
machine skew far less than wall time; wall tokens/s are recorded too). Each measurement runs
in a fresh subprocess with `--threads` threads; the driver alternates the systems (A B B A
...) and reports medians.

    .venv/bin/python benchmarks/bench_lab_pretrain.py --corpus lab/data --steps 300 \\
        --repeats 2 --num-blocks 4 --hidden 64 --intermediate 128 --dropout 0 --mask-prob 0.4 \
        --out runs/bench_lab_pretrain.json

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL_KEYS = ("num_blocks", "hidden", "intermediate", "vocab_size", "batch_size", "lr", "dropout",
              "mask_prob", "steps")


def _config(args: argparse.Namespace, corpus: str) -> Any:
    from alignscope.lab.options import PretrainConfig

    return PretrainConfig(corpus=corpus, threads=args.threads, device="cpu", seed=1,
                          curve_points=1, save_every=10**6,
                          **{key: getattr(args, key) for key in MODEL_KEYS})


def run_alignscope(args: argparse.Namespace) -> dict[str, Any]:
    from alignscope.lab.pretrain import pretrain

    with tempfile.TemporaryDirectory() as tmp:
        result = pretrain(_config(args, args.corpus), Path(tmp) / "model", show_progress=False)
    return {"tokens_per_second": result["tokens_per_second"],
            "tokens_per_cpu_second": round(result["train_tokens"] / result["train_cpu_seconds"]),
            "train_seconds": result["train_seconds"], "tokens": result["train_tokens"]}


def run_hf(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    from alignscope.lab.pretrain import (
        _build,
        _read_lines,
        _tokenize,
        corpus_languages,
        corpus_tokenizer,
    )

    torch.set_num_threads(args.threads)
    config = _config(args, args.corpus)
    corpus = Path(args.corpus)
    tokenizer = corpus_tokenizer(corpus, config.vocab_size, config.max_length)
    rows = [{"input_ids": ids} for lang in corpus_languages(corpus)
            for ids in _tokenize(tokenizer, _read_lines(corpus / "text" / f"{lang}.train.txt"),
                                 config)]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mask_prob)
    loader = DataLoader(rows, batch_size=config.batch_size, shuffle=True, collate_fn=collator,
                        generator=torch.Generator().manual_seed(1))
    model = _build(config, tokenizer).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.05 * config.steps),
                                                config.steps)
    step, tokens, began, began_cpu = 0, 0, time.perf_counter(), time.process_time()
    while step < config.steps:
        for batch in loader:
            tokens += int(batch["attention_mask"].sum())
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step == config.steps:
                break
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return {"tokens_per_second": round(tokens / seconds),
            "tokens_per_cpu_second": round(tokens / cpu), "train_seconds": round(seconds, 1),
            "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a `lab generate` folder")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--num-blocks", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--intermediate", type=int, default=512)
    parser.add_argument("--vocab-size", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--mask-prob", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="ABBA pairs")
    parser.add_argument("--system", choices=["hf", "alignscope"], help="one measurement")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.system:
        result = (run_hf if args.system == "hf" else run_alignscope)(args)
        print(json.dumps(result))
        return
    order = ["alignscope", "hf", "hf", "alignscope"] * args.repeats
    measured: dict[str, list[dict[str, Any]]] = {"alignscope": [], "hf": []}
    own = [item for key in ("corpus", "threads", *MODEL_KEYS)
           for item in (f"--{key.replace('_', '-')}", str(getattr(args, key)))]
    for system in order:
        done = subprocess.run([sys.executable, __file__, *own, "--system", system],
                              check=True, capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
        measured[system].append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(system, measured[system][-1], f"load {os.getloadavg()[0]:.2f}", flush=True)
    summary = {system: statistics.median(r["tokens_per_cpu_second"] for r in runs)
               for system, runs in measured.items()}
    report = {"args": {k: v for k, v in vars(args).items() if k not in ("system", "out")},
              "median_tokens_per_cpu_second": summary,
              "ratio_alignscope_over_hf": round(summary["alignscope"] / summary["hf"], 2),
              "runs": measured, "machine": platform.processor() or platform.machine(),
              "load_average": os.getloadavg()}
    print(json.dumps(report["median_tokens_per_cpu_second"]), "ratio",
          report["ratio_alignscope_over_hf"])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
