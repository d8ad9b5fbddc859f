"""An estimate, not a measurement, of the GPU time of an experiment file (configs/paper/*.yaml).

    python benchmarks/estimate_gpu_time.py configs/paper/*.yaml --data-dir ../shared/data \\
        --tokenizer ~/.cache/alignscope/e5-small --params 85e6 --rate 30e12

Training costs ~6 x N x T FLOPs (forward 2N, backward 4N per token; Kaplan et al. 2020), with N
the non-embedding parameters (an embedding row is looked up, not multiplied) and T the subword
tokens seen: the source's training tokens x epochs. Evaluation and the analyses run forward only,
~2 x N per token: the dev set after every epoch, every target test set, and the parallel
sentences of the analysed languages (pretrained similarity once; per fine-tune its similarity and
the two sides of stability). Attention's s^2 term is left out (~2 % at 128 subwords); the
padding of random training batches to their longest sentence is shown apart. The GPU time is FLOPs
divided by `--rate`, an ASSUMED sustained rate: small-batch fine-tuning of a 12-layer encoder
uses a small share of a modern GPU's bf16 peak; `benchmarks/gpu_suite.sh` measures it.

Token counts come from the datasets present under `--data-dir`, with `--tokenizer` (use the
experiment's own model where it can be loaded; a stand-in changes the count by its subword
rate); a dataset absent there counts as the mean of the present ones of its kind.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from pathlib import Path

from alignscope.data.conllu import read_conllu
from alignscope.data.ner import read_iob
from alignscope.data.registry import parse_ref, resolve
from alignscope.errors import AlignscopeError
from alignscope.experiments.spec import load_spec

PUD_SENTENCES = 1000  # parallel sentences per language (all of PUD: no max_sentences)


class Counter:
    def __init__(self, tokenizer: str, data_dir: str | None) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(Path(tokenizer).expanduser()))
        self.data_dir = data_dir
        self.found: dict[str, list[int]] = {}  # kind -> token counts of present datasets

    def lengths(self, reference: str, role: str, limit: int | None = None) -> list[int] | None:
        """Subword tokens per sentence (with [CLS]/[SEP]), None when the dataset is not here."""
        try:
            dataset = resolve(parse_ref(reference), role, self.data_dir)  # type: ignore[arg-type]
        except AlignscopeError:
            return None
        reader = read_conllu if dataset.format == "conllu" else read_iob
        sentences = reader(dataset.path, limit)
        encoded = self.tokenizer([list(s.words) for s in sentences], is_split_into_words=True,
                                 truncation=True, max_length=128)["input_ids"]
        lengths = [len(ids) for ids in encoded]
        self.found.setdefault(f"{parse_ref(reference).scheme}:{role}", []).append(sum(lengths))
        return lengths

    def tokens(self, reference: str, role: str, limit: int | None = None) -> int | None:
        lengths = self.lengths(reference, role, limit)
        return None if lengths is None else sum(lengths)

    def or_mean(self, count: int | None, reference: str, role: str) -> tuple[int, bool]:
        if count is not None:
            return count, True
        present = self.found.get(f"{parse_ref(reference).scheme}:{role}", [])
        if not present:
            raise SystemExit(f"no {reference} ({role}) and nothing of its kind under the data "
                             "dir to stand in for it")
        return round(statistics.fmean(present)), False


def padded_tokens(lengths: list[int], batch_size: int) -> int:
    """Tokens computed when random batches are padded to their longest sentence (seed 0)."""
    order = random.Random(0).sample(lengths, len(lengths))
    return sum(max(batch) * len(batch) for batch in
               (order[i:i + batch_size] for i in range(0, len(order), batch_size)))


def estimate(config: str, counter: Counter, params: float, rate: float,
             blocks: int) -> dict[str, float]:
    spec = load_spec(config)
    epochs = int(spec.finetune.get("epochs", 10))
    window = spec.random_init.window
    groups = spec.random_init.reference + len(spec.random_init.groups) + \
        (math.ceil(blocks / window) if window else 0)
    runs = groups * len(spec.seeds)
    train = padded = eval_tokens = dev = 0
    missing = []
    for task in spec.tasks.values():
        lengths = counter.lengths(task.source, "train") or []
        train += sum(lengths)
        padded += padded_tokens(lengths, int(spec.finetune.get("batch_size", 32)))
        dev += counter.tokens(task.dev or task.source, "dev") or 0
        present = [(t, counter.tokens(t, "eval")) for t in task.targets]
        for target, count in present:
            value, here = counter.or_mean(count, target, "eval")
            eval_tokens += value
            missing += [] if here else [target]
        eval_tokens += counter.tokens(task.source, "eval") or 0
    languages = len(spec.analyses.languages or []) + 1
    parallel = counter.or_mean(counter.tokens("ud:en_pud", "eval", PUD_SENTENCES), "ud:en_pud",
                               "eval")[0] * languages
    analyses = spec.analyses
    per_run_forward = dev * epochs + eval_tokens
    if analyses.similarity and analyses.similarity.finetuned:
        per_run_forward += parallel
    if analyses.stability:
        per_run_forward += 2 * parallel
    flops = runs * (6 * params * train * epochs + 2 * params * per_run_forward) + \
        2 * params * parallel * bool(analyses.similarity)
    return {"runs": runs, "train_tokens": train, "epochs": epochs, "flops": flops,
            "padded_flops": flops + runs * 6 * params * (padded - train) * epochs,
            "training_share": runs * 6 * params * train * epochs / flops,
            "gpu_hours": flops / rate / 3600, "stand_ins": len(missing)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--tokenizer", required=True, help="a model folder or hub name")
    parser.add_argument("--params", type=float, default=85e6,
                        help="non-embedding parameters (mBERT: 85M of its 178M)")
    parser.add_argument("--blocks", type=int, default=12, help="the model's depth")
    parser.add_argument("--rate", type=float, default=30e12,
                        help="ASSUMED sustained FLOP/s of one fine-tune on the GPU (default: 30 TFLOP/s)")
    args = parser.parse_args()
    counter = Counter(args.tokenizer, args.data_dir)
    for config in args.configs:
        result = estimate(config, counter, args.params, args.rate, args.blocks)
        print(f"{config}: {result['runs']} fine-tunes x {result['epochs']} epochs x "
              f"{result['train_tokens']:,} training tokens; {result['flops']:.2e} FLOPs "
              f"({result['training_share']:.0%} training); at {args.rate:.3g} FLOP/s: "
              f"{result['gpu_hours']:.2f} GPU-hours ({result['padded_flops']:.2e} FLOPs and "
              f"{result['padded_flops'] / args.rate / 3600:.2f} h counting the training "
              f"batches' padding); {result['stand_ins']} test set(s) counted as the mean of "
              "the present ones")


if __name__ == "__main__":
    main()
