"""An independent check of `alignscope similarity` on a real model (issue 17, item 3).

The reference is written from the published definitions with plain transformers and numpy,
sharing no code with alignscope's extraction or measures:
* sentences: the `# sent_id` / `# text` lines of the UD PUD files, read here, matched by id;
* features: one sentence per forward pass of the model as `AutoModelForCausalLM` (or
  `AutoModel` for an encoder), float32, `output_hidden_states=True`, mean over the tokens the
  tokenizer does not mark as special (BOS / CLS / SEP excluded);
* linear CKA (Kornblith et al. 2019): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), columns centred;
* MEXA (Kargaran et al. 2025): the share of i whose cosine C[i, i] is strictly greater than
  every other entry of row i and column i.

`run_similarity` runs first, on a seeded sample of `--sentences`; the reference then takes the
sentences the tool lists in `parallel.ids` (or, with `--first`, the first N sentences of the
PUD files, which reproduces the gap reported in issue 17: a different sample, not a different
computation). The largest difference per measure is printed and, with `--json`, saved.

    .venv/bin/python benchmarks/reference_similarity.py ~/.cache/alignscope/gemma3-270m \\
        --targets fr --sentences 100 --threads 1 --json runs/reference-gemma.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analysis"))
from numpy_reference import linear_cka, mexa, plain_features  # shared with the tests

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO / ".." / "shared" / "data").resolve()


def pud_sentences(data_dir: Path, language: str) -> dict[str, str]:
    """sent_id -> text of `language`'s PUD test file."""
    files = sorted(data_dir.glob(f"**/{language}_pud-ud-test.conllu"))
    if not files:
        sys.exit(f"no {language}_pud-ud-test.conllu under {data_dir}")
    sentences: dict[str, str] = {}
    sent_id = None
    for line in files[0].read_text(encoding="utf-8").splitlines():
        if line.startswith("# sent_id = "):
            sent_id = line.split("=", 1)[1].strip()
        elif line.startswith("# text = "):
            sentences[sent_id] = line.split("=", 1)[1].strip()
    return sentences


def tool_result(model: str, data_dir: Path, targets: tuple[str, ...], count: int,
                seed: int) -> dict:
    from alignscope.analysis.similarity import SimilarityConfig, run_similarity

    os.environ["ALIGNSCOPE_CACHE"] = tempfile.mkdtemp(prefix="reference-similarity-")
    config = SimilarityConfig(model=model, targets=targets, source="en", data_dir=str(data_dir),
                              max_sentences=count, seed=seed, controls=(), device="cpu",
                              measures=("linear", "mexa"))
    return run_similarity(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--targets", type=lambda v: tuple(v.split(",")), default=("fr",))
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--first", action="store_true",
                        help="reference on the first N sentences instead of the tool's sample")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = tool_result(args.model, args.data_dir, args.targets, args.sentences, args.seed)
    tool = result["results"]
    by_language = {lang: pud_sentences(args.data_dir, lang) for lang in ("en", *args.targets)}
    ids = list(by_language["en"])[:args.sentences] if args.first else result["parallel"]["ids"]
    features = {lang: plain_features(args.model, [s[i] for i in ids])
                for lang, s in by_language.items()}
    report: dict = {"model": args.model, "sentences": len(ids), "first": args.first,
                    "same_sentences": ids == result["parallel"]["ids"], "layers": {}}
    worst = {"linear": 0.0, "mexa": 0.0}
    for lang in args.targets:
        for layer in range(features["en"].shape[0]):
            name = "embeddings" if layer == 0 else f"block.{layer - 1}"
            x, y = features["en"][layer], features[lang][layer]
            ours = {"linear": linear_cka(x, y), "mexa": mexa(x, y)}
            row = {}
            for measure, value in ours.items():
                theirs = tool[measure]["parallel"][lang][layer]
                row[measure] = {"reference": value, "tool": theirs}
                worst[measure] = max(worst[measure], abs(value - theirs))
            report["layers"].setdefault(lang, {})[name] = row
            print(f"{lang} {name:>10}  linear ref {row['linear']['reference']:.4f} tool "
                  f"{row['linear']['tool']:.4f}   mexa ref {row['mexa']['reference']:.3f} "
                  f"tool {row['mexa']['tool']:.3f}")
    report["largest_difference"] = worst
    print("largest |reference - tool|:", worst)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
