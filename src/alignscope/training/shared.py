"""Datasets read and tokenised once per process, for callers that run many fine-tunes (a
sweep): every run of a task reads the same source, dev and target files, and every run of a
model tokenises them the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import Sentence
from alignscope.tasks import Task


def tokenizer_identity(tokenizer: Any) -> tuple[str, str, int]:
    return type(tokenizer).__name__, str(tokenizer.name_or_path), len(tokenizer)


class SharedData:
    """Memoised `task.read` and `aligner.encode`; the sentences and encodings are read-only."""

    def __init__(self) -> None:
        self._sentences: dict[tuple[Any, ...], list[Sentence]] = {}
        self._encoded: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.hits = {"read": 0, "encode": 0}

    def read(self, task: Task, dataset: ResolvedDataset, limit: int | None) -> list[Sentence]:
        key = (task.name, str(dataset.path), dataset.format, limit)
        if key in self._sentences:
            self.hits["read"] += 1
        else:
            self._sentences[key] = task.read(dataset, limit=limit)
        return self._sentences[key]

    def encode(self, aligner: Any, sentences: Sequence[Sentence]) -> tuple[Any, Any]:
        """`aligner.encode` of these sentences' words (the list `read` returned)."""
        key = (tokenizer_identity(aligner.tokenizer), aligner.max_tokens, aligner.anchor, id(sentences))
        if key in self._encoded:
            self.hits["encode"] += 1
        else:
            # Keyed by the list's identity: `read` keeps every list alive for the process.
            self._encoded[key] = aligner.encode([s.words for s in sentences])
        return self._encoded[key]
