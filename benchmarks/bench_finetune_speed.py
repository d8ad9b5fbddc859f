"""Training speed of `alignscope finetune` against the Hugging Face Trainer (issue 2).

Both systems do the same job: UPOS tagging on the first N sentences of UD English-EWT train,
same encoder weights, batch size, max length, epochs, lr 2e-5, linear schedule with 10 %
warmup, weight decay 0, gradient clipping at 1.0, one label per word.

* HF: `AutoModelForTokenClassification` + `Trainer`, features built as in the XTREME / HF
  token-classification recipe (`tokenizer(words, is_split_into_words=True, truncation=True,
  max_length=L)`, label on each word's first subword, -100 elsewhere), the default
  `DataCollatorForTokenClassification` (dynamic padding per batch), random sampling (no
  length grouping), the Trainer's default optimizer. Time = `train_runtime` of `trainer.train()`.
* alignscope: `alignscope.training.finetune.finetune` (length-grouped batches, one vector per
  word). Time = `training.train_seconds` (pure training; data encoding, dev/test passes and
  checkpoint writing excluded).

Words/second = words trained on / seconds (HF: labelled first subwords, i.e. words that
survive truncation; alignscope: every word, long sentences are windowed, not truncated).

Each measurement runs in a fresh subprocess (`--system hf|alignscope`) so its peak RSS is
clean; the driver alternates the two systems `--repeats` times (ABBA order) in one run on
the same machine and reports medians. Peak memory is given twice: the peak RSS of the
training loop alone (Linux VmHWM reset through /proc/self/clear_refs just before training)
and the whole process's `ru_maxrss` (model loading, and for alignscope the best-model
snapshot and checkpoint writing, included). On CUDA the peak allocated GPU memory is added.

    .venv/bin/python benchmarks/bench_finetune_speed.py --model ~/.cache/alignscope/e5-small \
        --train-sentences 1000 --epochs 1 --repeats 2 --out runs/bench_finetune_speed.json

Decoders (issue 17): `--model ~/.cache/alignscope/gemma3-270m` times the same job on a decoder
LLM. Where transformers has no `...ForTokenClassification` for the architecture (Gemma 3), the
HF side trains `AutoModel` + dropout + a linear layer through the same Trainer, labels on the
first subword as in the recipe above. `--freeze-embeddings` keeps the input embedding table out
of training on both sides (`--freeze embeddings` in alignscope). `--random-weights` builds the
model from `--model`'s config.json with random weights (the folder then needs only the config
and the tokenizer), for a machine the weights cannot be copied to.

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO / ".." / "shared" / "data").resolve()

# mBERT-base sizes (bert-base-multilingual-cased).
MBERT = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
         "intermediate_size": 3072, "vocab_size": 119547, "max_position_embeddings": 512}


# --------------------------------------------------------------------------------------------
# memory helpers


def _vm_hwm_mb() -> float | None:
    """Peak RSS since the last reset (VmHWM), in MiB; None where /proc is unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _ru_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------------------------
# workers (one system per process)


def _train_path(data_dir: Path) -> Path:
    from alignscope.data.registry import resolve

    return resolve("ud:en_ewt", "train", data_dir).path


def _setup_torch(args: argparse.Namespace) -> Any:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    return torch


def _hf_features(tokenizer: Any, sentences: list[Any], max_length: int) -> list[dict[str, Any]]:
    """XTREME / HF run_ner recipe: label each word's first subword, -100 elsewhere."""
    from alignscope.data.sentence import UPOS_TAGS

    index = {tag: i for i, tag in enumerate(UPOS_TAGS)}
    encoding = tokenizer([list(s.words) for s in sentences], is_split_into_words=True,
                         truncation=True, max_length=max_length)
    features = []
    for row, sentence in enumerate(sentences):
        labels, previous = [], None
        for word in encoding.word_ids(row):
            if word is None or word == previous:
                labels.append(-100)
            else:
                labels.append(index[sentence.upos[word]])
            previous = word
        features.append({"input_ids": encoding["input_ids"][row],
                         "attention_mask": encoding["attention_mask"][row], "labels": labels})
    return features


def _hf_tagger(args: argparse.Namespace, num_labels: int) -> Any:
    """The architecture's own token-classification model, or AutoModel + dropout + a linear
    layer where transformers has none (Gemma 3)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
    )

    config = AutoConfig.from_pretrained(args.model)
    if config.model_type in MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES:
        return AutoModelForTokenClassification.from_pretrained(
            args.model, num_labels=num_labels, use_safetensors=True)

    class Tagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(args.model, use_safetensors=True)
            self.dropout = torch.nn.Dropout(0.1)
            self.classifier = torch.nn.Linear(config.hidden_size, num_labels)

        def get_input_embeddings(self) -> torch.nn.Module:
            return self.encoder.get_input_embeddings()

        def forward(self, input_ids: Any, attention_mask: Any, labels: Any = None) -> Any:
            hidden = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            logits = self.classifier(self.dropout(hidden))
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                     labels.flatten(), ignore_index=-100)
            return {"loss": loss, "logits": logits}

    return Tagger()


def run_hf(args: argparse.Namespace) -> dict[str, Any]:
    torch = _setup_torch(args)
    from transformers import (
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from alignscope.data.conllu import read_conllu
    from alignscope.data.sentence import UPOS_TAGS

    sentences = read_conllu(_train_path(args.data_dir), limit=args.train_sentences)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    features = _hf_features(tokenizer, sentences, args.max_length)
    words_per_epoch = sum(sum(label != -100 for label in f["labels"]) for f in features)

    cuda = torch.cuda.is_available()
    set_seed(args.seed)
    model = _hf_tagger(args, len(UPOS_TAGS))
    if args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with tempfile.TemporaryDirectory(prefix="bench-hf-") as tmp:
        training_args = TrainingArguments(
            output_dir=tmp, num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size, learning_rate=2e-5,
            lr_scheduler_type="linear", warmup_steps=0.1,  # a float < 1 is a ratio in v5
            weight_decay=0.0, max_grad_norm=1.0, eval_strategy="no", save_strategy="no",
            report_to=[], disable_tqdm=True, use_cpu=not cuda, bf16=cuda,  # alignscope: bf16 on CUDA
            dataloader_num_workers=0, seed=args.seed)
        trainer = Trainer(model=model, args=training_args, train_dataset=features,
                          data_collator=DataCollatorForTokenClassification(tokenizer))
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        hwm_reset = _reset_hwm()
        started = time.perf_counter()
        output = trainer.train()
        wall = time.perf_counter() - started
        train_hwm = _vm_hwm_mb() if hwm_reset else None
        optimizer = trainer.optimizer
        optimizer = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
        seconds = float(output.metrics["train_runtime"])
        words = words_per_epoch * args.epochs
        result = {
            "system": "hf", "train_seconds": seconds, "train_wall_seconds": wall,
            "train_words": words, "words_per_second": words / seconds,
            "steps": int(output.global_step),
            "words_dropped_by_truncation_per_epoch":
                sum(len(s) for s in sentences) - words_per_epoch,
            "optim": str(getattr(training_args.optim, "value", training_args.optim)),
            "optimizer_class": type(optimizer).__name__,
            "optimizer_fused": bool(optimizer.defaults.get("fused")),
            "sampler": str(getattr(training_args, "train_sampling_strategy", "random")),
            "train_loss": float(output.training_loss),
        }
    result.update(_memory(torch, cuda, train_hwm))
    return result


def run_alignscope(args: argparse.Namespace) -> dict[str, Any]:
    torch = _setup_torch(args)
    from alignscope.training import finetune as finetune_module
    from alignscope.training import loop
    from alignscope.training.config import FinetuneConfig

    cuda = torch.cuda.is_available()
    # Peak RSS of the training loop only: reset VmHWM when an epoch's batches are drawn and read
    # it when the epoch's loop leaves its batches (exhausted, or closed on `break`), i.e.
    # before finetune() snapshots the best model.
    peaks: list[float] = []
    original_batches = loop.length_grouped_batches

    def measured(items: list[Any]) -> Any:
        try:
            yield from items
        finally:
            hwm = _vm_hwm_mb()
            if hwm is not None:
                peaks.append(hwm)

    class Batches(list):  # the loop iterates over the batches left: batches[position:]
        def __getitem__(self, index: Any) -> Any:
            items = super().__getitem__(index)
            return measured(items) if isinstance(index, slice) else items

    def batches(*a: Any, **k: Any) -> Any:
        _reset_hwm()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        return Batches(original_batches(*a, **k))

    loop.length_grouped_batches = batches
    config = FinetuneConfig(
        model=str(args.model), train=str(_train_path(args.data_dir)),  # a file: no dev/test pass
        eval=[], epochs=args.epochs, lr=2e-5, batch_size=args.batch_size,
        max_length=args.max_length, warmup_ratio=0.1, weight_decay=0.0, max_grad_norm=1.0,
        max_train_sentences=args.train_sentences, max_dev_sentences=50, seed=args.seed,
        data_dir=str(args.data_dir), freeze="embeddings" if args.freeze_embeddings else None)
    with tempfile.TemporaryDirectory(prefix="bench-alignscope-") as tmp:
        results = finetune_module.finetune(config, Path(tmp) / "run", show_progress=False)
    training = results["training"]
    seconds = float(training["train_seconds"])
    result = {
        "system": "alignscope", "train_seconds": seconds, "train_words": training["train_words"],
        "words_per_second": training["train_words"] / seconds, "steps": training["steps"],
        "optim": "torch.optim.AdamW(fused=True)", "optimizer_fused": True,
        "sampler": "length_grouped_batches",
        "train_loss": training["history"][-1]["train_loss"],
        "results_peak_rss_mb": results["resources"]["peak_rss_mb"],
    }
    result.update(_memory(torch, cuda, max(peaks) if peaks else None))
    return result


def _memory(torch: Any, cuda: bool, train_hwm: float | None) -> dict[str, Any]:
    figures: dict[str, Any] = {"train_peak_rss_mb": train_hwm, "process_peak_rss_mb": _ru_maxrss_mb(),
                               "threads": torch.get_num_threads()}
    if cuda:
        figures["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        figures["device"] = torch.cuda.get_device_name()
    else:
        figures["device"] = "cpu"
    return figures


# --------------------------------------------------------------------------------------------
# padding simulation (tokenization only, in the driver)


def padding_stats(args: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    """Share of padded positions in each system's batches over one epoch of the same data."""
    import torch
    from transformers import AutoTokenizer

    from alignscope.data.conllu import read_conllu
    from alignscope.encoding.batching import length_grouped_batches
    from alignscope.encoding.words import WordAligner

    sentences = read_conllu(_train_path(args.data_dir), limit=args.train_sentences)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    hf_lengths = [len(f["input_ids"]) for f in _hf_features(tokenizer, sentences, args.max_length)]
    encoded, _ = WordAligner(tokenizer, args.max_length).encode([s.words for s in sentences])

    def hf_epoch(seed: int) -> tuple[int, int]:  # RandomSampler, pad to the longest in batch
        order = torch.randperm(len(hf_lengths), generator=torch.Generator().manual_seed(seed))
        order = order.tolist()
        real = padded = 0
        for start in range(0, len(order), args.batch_size):
            batch = [hf_lengths[i] for i in order[start:start + args.batch_size]]
            real += sum(batch)
            padded += len(batch) * max(batch)
        return real, padded

    hf = [hf_epoch(seed) for seed in range(20)]
    hf_real = hf[0][0]
    hf_padded = statistics.mean(p for _, p in hf)
    real = padded = 0
    for seed in range(20):
        for indices in length_grouped_batches([e.num_tokens for e in encoded], args.batch_size,
                                              torch.Generator().manual_seed(seed)):
            windows = [len(w) for i in indices for w in encoded[i].windows]
            real += sum(windows)
            padded += len(windows) * max(windows)
    return {
        "sentences": len(sentences), "words": sum(len(s) for s in sentences),
        "hf_real_tokens": hf_real, "hf_padded_tokens": round(hf_padded),
        "hf_pad_share": 1 - hf_real / hf_padded,
        "alignscope_real_tokens": real // 20, "alignscope_padded_tokens": round(padded / 20),
        "alignscope_pad_share": 1 - real / padded,
        "padded_token_ratio_hf_over_alignscope": hf_padded / (padded / 20),
        "note": "averaged over 20 shuffles of one epoch",
    }


# --------------------------------------------------------------------------------------------
# driver


def make_random_mbert(args: argparse.Namespace, directory: Path) -> Path:
    """An mBERT-sized BERT with random weights, saved with the given tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    sizes = dict(MBERT)
    # Token ids must fit: XLM-R's 250k vocabulary makes the embedding larger than mBERT's.
    sizes["vocab_size"] = max(sizes["vocab_size"], len(tokenizer))
    config = BertConfig(**sizes, pad_token_id=tokenizer.pad_token_id or 0)
    torch.manual_seed(args.seed)
    model = BertModel(config)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def make_random_weights(args: argparse.Namespace, directory: Path) -> Path:
    """`--model`'s own config with random weights, saved with its tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    AutoModel.from_config(AutoConfig.from_pretrained(args.model)).save_pretrained(directory)
    AutoTokenizer.from_pretrained(args.model).save_pretrained(directory)
    return directory


def _worker_command(args: argparse.Namespace, system: str, model: Path, out: Path) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--system", system,
               "--model", str(model), "--data-dir", str(args.data_dir),
               "--train-sentences", str(args.train_sentences), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
               "--seed", str(args.seed), "--worker-json", str(out)]
    if args.freeze_embeddings:
        command.append("--freeze-embeddings")
    if args.threads:
        command += ["--threads", str(args.threads)]
    return command


def _run_worker(args: argparse.Namespace, system: str, model: Path, tmp: Path,
                label: str) -> dict[str, Any]:
    out, log = tmp / f"{label}.json", tmp / f"{label}.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(_worker_command(args, system, model, out), stdout=handle,
                               stderr=subprocess.STDOUT, env=env, cwd=REPO)
    if code != 0 or not out.is_file():
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"{system} worker failed with exit status {code}")
    result = json.loads(out.read_text())
    result["process_wall_seconds"] = time.perf_counter() - started
    print(f"[{label}] {system}: {result['words_per_second']:.1f} words/s "
          f"({result['train_words']} words in {result['train_seconds']:.1f} s, "
          f"train peak RSS {result['train_peak_rss_mb']:.0f} MiB)", file=sys.stderr, flush=True)
    return result


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def _cpu_name() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def drive(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import transformers

    with tempfile.TemporaryDirectory(prefix="bench-finetune-speed-") as tmp_name:
        tmp = Path(tmp_name)
        model = args.model
        if args.random_config == "mbert":
            model = make_random_mbert(args, tmp / "random-mbert")
        elif args.random_weights:
            model = make_random_weights(args, tmp / "random-weights")
        padding = padding_stats(args, model)
        runs: dict[str, list[dict[str, Any]]] = {"hf": [], "alignscope": []}
        for repeat in range(args.repeats):
            order = ["hf", "alignscope"] if repeat % 2 == 0 else ["alignscope", "hf"]
            for system in order:
                runs[system].append(_run_worker(args, system, model, tmp, f"r{repeat}-{system}"))
    hf_wps = _median(runs["hf"], "words_per_second")
    as_wps = _median(runs["alignscope"], "words_per_second")
    pair_ratios = [a["words_per_second"] / h["words_per_second"]
                   for a, h in zip(runs["alignscope"], runs["hf"], strict=True)]
    cuda = torch.cuda.is_available()
    summary = {
        "date": dt.date.today().isoformat(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": str(args.model), "random_config": args.random_config,
        "machine": {"cpu": _cpu_name(), "cpu_count": os.cpu_count(),
                    "gpu": torch.cuda.get_device_name() if cuda else None,
                    "loadavg_at_end": os.getloadavg()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "padding": padding,
        "median": {
            system: {key: _median(results, key) for key in (
                "words_per_second", "train_seconds", "train_words", "steps", "train_peak_rss_mb",
                "process_peak_rss_mb", "peak_cuda_mb")}
            for system, results in runs.items()},
        "ratio_alignscope_over_hf": as_wps / hf_wps if hf_wps else None,
        "ratio_per_repeat": pair_ratios,
        "hf_optim": runs["hf"][0]["optim"], "hf_optimizer_fused": runs["hf"][0]["optimizer_fused"],
        "runs": runs,
    }
    return summary


def markdown(summary: dict[str, Any]) -> str:
    med = summary["median"]
    pad = summary["padding"]
    mem_key = "peak_cuda_mb" if med["hf"].get("peak_cuda_mb") else None
    header = ("| system | words/s (median) | train s | words | steps | pad share | "
              "train peak RSS MiB | process peak RSS MiB |" + (" peak GPU MiB |" if mem_key else ""))
    model = summary["model"] + (f" (random weights, {summary['random_config']}-sized config)"
                                if summary["random_config"] else "")
    settings = summary["settings"]
    lines = [f"model `{model}`, {pad['sentences']} sentences x {settings['epochs']} epoch(s), "
             f"batch {settings['batch_size']}, max length {settings['max_length']}, "
             f"{len(summary['ratio_per_repeat'])} alternating repeats, device "
             f"{summary['machine']['gpu'] or summary['machine']['cpu']}", "",
             header, "|" + "---|" * (8 + bool(mem_key))]
    for system, label in (("hf", f"HF Trainer ({summary['hf_optim']})"),
                          ("alignscope", "alignscope finetune")):
        m = med[system]
        row = (f"| {label} | {m['words_per_second']:.1f} | {m['train_seconds']:.1f} | "
               f"{m['train_words']:.0f} | {m['steps']:.0f} | {pad[system + '_pad_share']:.1%} | "
               f"{m['train_peak_rss_mb'] or float('nan'):.0f} | {m['process_peak_rss_mb']:.0f} |")
        if mem_key:
            row += f" {m[mem_key]:.0f} |"
        lines.append(row)
    ratios = ", ".join(f"{r:.2f}" for r in summary["ratio_per_repeat"])
    lines.append("")
    lines.append(f"ratio alignscope/HF (medians): **{summary['ratio_alignscope_over_hf']:.2f}x** "
                 f"(per repeat: {ratios}); padded tokens per epoch HF/alignscope: "
                 f"{pad['padded_token_ratio_hf_over_alignscope']:.2f}x")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("~/.cache/alignscope/e5-small"),
                        help="local model directory (encoder weights and fast tokenizer)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--train-sentences", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--random-config", choices=["mbert"], default=None,
                        help="time an mBERT-sized BERT with random weights (reuses --model's "
                             "tokenizer); meant for GPUs, slow on CPU")
    parser.add_argument("--freeze-embeddings", action="store_true",
                        help="keep the input embedding table out of training (both systems)")
    parser.add_argument("--random-weights", action="store_true",
                        help="random weights in --model's own config (the folder needs only "
                             "config.json and the tokenizer)")
    parser.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    parser.add_argument("--system", choices=["hf", "alignscope"], default=None,
                        help=argparse.SUPPRESS)  # worker mode
    parser.add_argument("--worker-json", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.model = args.model.expanduser().resolve()
    args.data_dir = args.data_dir.expanduser().resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.system:
        result = (run_hf if args.system == "hf" else run_alignscope)(args)
        text = json.dumps(result, indent=2)
        if args.worker_json:
            args.worker_json.write_text(text)
        else:
            print(text)
        return
    summary = drive(args)
    table = markdown(summary)
    summary["markdown"] = table
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
