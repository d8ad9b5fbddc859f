"""UPOS tagging: one of the 17 universal tags per syntactic word, scored by accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alignscope.data.conllu import write_conllu
from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import UPOS_TAGS, Sentence
from alignscope.tasks.base import Labels, read_annotated_conllu
from alignscope.tasks.tagging import WordTagging


class PosTagging(WordTagging):
    name = "pos"
    label_key = "upos"
    main_metric = "upos_accuracy"
    data_format = "conllu"

    def read(self, dataset: ResolvedDataset, limit: int | None = None) -> list[Sentence]:
        return read_annotated_conllu(dataset, limit, "upos", "UPOS tagging")

    def build_labels(self, train: Sequence[Sentence]) -> Labels:
        # The tag set is fixed by UD, so a tag unseen in training can still be scored.
        return {"upos": list(UPOS_TAGS)}

    def gold(self, sentence: Sentence) -> Sequence[str]:
        return sentence.upos or ()

    def score(self, sentences: Sequence[Sentence], predictions: Sequence[list[str]],
              labels: Labels) -> dict[str, float | int]:
        correct = total = 0
        for sentence, predicted in zip(sentences, predictions, strict=True):
            gold = sentence.upos or ()
            if len(predicted) != len(gold):
                raise AssertionError(f"{sentence.location}: {len(predicted)} predictions for "
                                     f"{len(gold)} words")
            correct += sum(p == g for p, g in zip(predicted, gold, strict=True))
            total += len(gold)
        return {"upos_accuracy": correct / total if total else 0.0, "words": total}

    def write_predictions(self, path: Path, sentences: Sequence[Sentence],
                          predictions: Sequence[list[str]]) -> None:
        write_conllu(path, list(sentences), upos=[list(p) for p in predictions])
