"""The majority-tag baseline of a UPOS experiment file, on the exact sentences its runs score.

    python benchmarks/majority_baseline.py configs/decoder/pos.yaml [--json out.json]

Every word of each evaluated set (the source's test split, then every target) is tagged with
the most frequent UPOS of the training sentences a run sees (`finetune.max_train_sentences`),
scored on the first `finetune.max_eval_sentences` sentences, as the fine-tunes are. A model
that learned nothing beyond the tag distribution scores this; REF must be well above it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from alignscope.data.registry import resolve
from alignscope.experiments.spec import load_spec
from alignscope.tasks import get_task


def majority(config: str) -> dict[str, object]:
    spec = load_spec(config)
    task_spec = spec.tasks["pos"]
    task = get_task("pos")
    train = task.read(resolve(task_spec.source, "train", spec.data_dir),
                      limit=spec.finetune.get("max_train_sentences"))
    counts = Counter(tag for sentence in train for tag in sentence.upos or ())
    tag = counts.most_common(1)[0][0]
    scores = {}
    for reference in (task_spec.source, *task_spec.targets):
        dataset = resolve(reference, "eval", spec.data_dir)
        sentences = task.read(dataset, limit=spec.finetune.get("max_eval_sentences"))
        tags = [t for sentence in sentences for t in sentence.upos or ()]
        scores[dataset.language] = {"accuracy": sum(t == tag for t in tags) / len(tags),
                                    "words": len(tags), "sentences": len(sentences)}
    return {"config": config, "tag": tag, "train_sentences": len(train),
            "tag_share_in_train": counts[tag] / sum(counts.values()), "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    result = majority(args.config)
    print(f"majority tag {result['tag']} ({result['tag_share_in_train']:.1%} of "
          f"{result['train_sentences']} training sentences)")
    for language, score in result["scores"].items():  # type: ignore[union-attr]
        print(f"  {language}: {100 * score['accuracy']:.1f} ({score['words']} words)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
