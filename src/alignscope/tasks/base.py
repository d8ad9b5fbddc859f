"""What a fine-tuning task reads, predicts, and how it is scored.

A task works at the word level: the training loop turns subword windows into one vector per
word and hands the task head a tensor [batch, words, hidden] with a word mask. Adding a task
means subclassing `Task` (or `tagging.WordTagging` for one label per word) and registering it:
`alignscope.tasks.register_task` (a plug-in) or a lazy entry of `alignscope.tasks.TASKS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from alignscope.data.conllu import read_conllu
from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import Sentence
from alignscope.errors import AlignscopeError

IGNORE_INDEX = -100
Labels = dict[str, list[str]]  # JSON-serialisable label vocabularies, saved with the checkpoint

_CONLLU_LAYERS = {"upos": "no UPOS annotation ('_' in column 4)",
                  "heads": "no dependency tree ('_' in HEAD)"}


def read_annotated_conllu(dataset: ResolvedDataset, limit: int | None, layer: str,
                          task_title: str) -> list[Sentence]:
    """A CoNLL-U file whose every sentence carries `layer` ("upos" or "heads")."""
    if dataset.format != "conllu":
        raise AlignscopeError(f"{dataset.path}: {task_title} needs a CoNLL-U file")
    sentences = read_conllu(dataset.path, limit=limit)
    for sentence in sentences:
        if getattr(sentence, layer) is None:
            raise AlignscopeError(f"{sentence.location}: sentence {sentence.sent_id} has "
                                  f"{_CONLLU_LAYERS[layer]}")
    return sentences


class Task(ABC):
    name: ClassVar[str]
    main_metric: ClassVar[str]  # the metric used for model selection and tables
    data_format: ClassVar[str]  # "conllu" or "iob"

    @abstractmethod
    def read(self, dataset: ResolvedDataset, limit: int | None = None) -> list[Sentence]:
        """Read a dataset, checking that it carries this task's annotation."""

    @abstractmethod
    def build_labels(self, train: Sequence[Sentence]) -> Labels: ...

    def check_labels(self, sentences: Sequence[Sentence], labels: Labels) -> None:
        """Refuse gold labels a model with `labels` cannot score; runs before any training."""
        return  # most tasks can score any gold label (UPOS is closed; unknown DEPRELs count)

    @abstractmethod
    def build_head(self, hidden_size: int, labels: Labels, dropout: float) -> nn.Module: ...

    @abstractmethod
    def targets(self, sentences: Sequence[Sentence], labels: Labels,
                max_words: int) -> dict[str, torch.Tensor]:
        """Padded word-level gold tensors [batch, max_words], IGNORE_INDEX where padded."""

    @abstractmethod
    def loss(self, output: Any, targets: dict[str, torch.Tensor],
             word_mask: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, output: Any, word_mask: torch.Tensor, labels: Labels) -> list[Any]:
        """One prediction per sentence, in plain Python types."""

    @abstractmethod
    def score(self, sentences: Sequence[Sentence], predictions: Sequence[Any],
              labels: Labels) -> dict[str, Any]:
        """Metrics over a whole dataset; must contain `main_metric`. `labels` are the scored
        model's, passed explicitly so that predictions reloaded from disk are checked too."""

    @abstractmethod
    def write_predictions(self, path: Path, sentences: Sequence[Sentence],
                          predictions: Sequence[Any]) -> None:
        """Write predictions in the input's format (atomically)."""
