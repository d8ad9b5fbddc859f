"""The unit every task and analysis works on: one sentence of syntactic words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The 17 Universal POS tags (UD v2), in the order of the UD guidelines.
UPOS_TAGS: tuple[str, ...] = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    """A sentence as a sequence of syntactic words (UD) or tokens (NER).

    Annotation tuples are aligned with `words`; a field is None when the source has no
    such annotation. `heads` are 1-based, 0 is the root (CoNLL-U convention).
    `source` keeps the parsed record (e.g. the conllu TokenList) so that predictions can be
    written back with every other column unchanged.
    """

    words: tuple[str, ...]
    upos: tuple[str, ...] | None = None
    heads: tuple[int, ...] | None = None
    deprels: tuple[str, ...] | None = None
    ner_tags: tuple[str, ...] | None = None
    sent_id: str | None = None
    text: str | None = None
    path: str | None = None
    line: int | None = None  # 1-based line where the sentence starts in `path`
    source: Any = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.path else (self.sent_id or "<sentence>")
