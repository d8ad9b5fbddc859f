"""UPOS tagging: one of the 17 universal tags per syntactic word, scored by accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from alignscope.data.conllu import write_conllu
from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import UPOS_TAGS, Sentence
from alignscope.models.heads import TaggerHead
from alignscope.tasks.base import (
    IGNORE_INDEX,
    Labels,
    Task,
    read_annotated_conllu,
    register_task,
)


@register_task
class PosTagging(Task):
    name = "pos"
    main_metric = "upos_accuracy"
    data_format = "conllu"

    def read(self, dataset: ResolvedDataset, limit: int | None = None) -> list[Sentence]:
        return read_annotated_conllu(dataset, limit, "upos", "UPOS tagging")

    def build_labels(self, train: Sequence[Sentence]) -> Labels:
        # The tag set is fixed by UD, so a tag unseen in training can still be scored.
        return {"upos": list(UPOS_TAGS)}

    def build_head(self, hidden_size: int, labels: Labels, dropout: float) -> nn.Module:
        return TaggerHead(hidden_size, len(labels["upos"]), dropout)

    def targets(self, sentences: Sequence[Sentence], labels: Labels,
                max_words: int) -> dict[str, torch.Tensor]:
        index = {tag: i for i, tag in enumerate(labels["upos"])}
        gold = torch.full((len(sentences), max_words), IGNORE_INDEX, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            gold[row, : len(sentence)] = torch.tensor([index[tag] for tag in sentence.upos or ()])
        return {"upos": gold}

    def loss(self, output: torch.Tensor, targets: dict[str, torch.Tensor],
             word_mask: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output.flatten(0, 1).float(), targets["upos"].flatten(),
                               ignore_index=IGNORE_INDEX)

    def decode(self, output: torch.Tensor, word_mask: torch.Tensor, labels: Labels) -> list[list[str]]:
        best = output.argmax(-1).cpu()
        lengths = word_mask.sum(-1).tolist()
        return [[labels["upos"][i] for i in best[row, :n].tolist()]
                for row, n in enumerate(lengths)]

    def score(self, sentences: Sequence[Sentence],
              predictions: Sequence[list[str]]) -> dict[str, float | int]:
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
