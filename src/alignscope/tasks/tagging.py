"""Word tagging: one label per word from a fixed list, a linear head and cross-entropy.

UPOS and NER share everything but their label column, their label set and how a predicted
sequence is repaired (NER keeps it valid IOB2); subclasses say those three things.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from alignscope.data.sentence import Sentence
from alignscope.models.heads import TaggerHead
from alignscope.tasks.base import IGNORE_INDEX, Labels, Task


class WordTagging(Task):
    label_key: ClassVar[str]  # the key of the label list in `Labels` and in `targets`

    @abstractmethod
    def gold(self, sentence: Sentence) -> Sequence[str]:
        """The sentence's gold labels, one per word."""

    def repair(self, tags: list[str]) -> list[str]:
        """A predicted sequence made well-formed; tag sets without constraints keep it."""
        return tags

    def build_head(self, hidden_size: int, labels: Labels, dropout: float) -> nn.Module:
        return TaggerHead(hidden_size, len(labels[self.label_key]), dropout)

    def targets(self, sentences: Sequence[Sentence], labels: Labels,
                max_words: int) -> dict[str, torch.Tensor]:
        self.check_labels(sentences, labels)
        index = {tag: i for i, tag in enumerate(labels[self.label_key])}
        gold = torch.full((len(sentences), max_words), IGNORE_INDEX, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            gold[row, : len(sentence)] = torch.tensor([index[tag] for tag in self.gold(sentence)])
        return {self.label_key: gold}

    def loss(self, output: torch.Tensor, targets: dict[str, torch.Tensor],
             word_mask: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output.flatten(0, 1).float(),
                               targets[self.label_key].to(output.device).flatten(),
                               ignore_index=IGNORE_INDEX)

    def decode(self, output: torch.Tensor, word_mask: torch.Tensor,
               labels: Labels) -> list[list[str]]:
        names = labels[self.label_key]
        best = output.argmax(-1).cpu()
        lengths = word_mask.sum(-1).tolist()
        return [self.repair([names[i] for i in best[row, :n].tolist()])
                for row, n in enumerate(lengths)]
