"""Named-entity recognition: IOB2 tagging of tokens, scored by strict span F1 (seqeval).

The label set is `O` plus `B-`/`I-` of every entity type seen in training. A gold tag of
another type in an evaluation file is an error naming its file and line: its entities could
never be found, and the F1 would silently mix tag sets. Predicted tags are the per-token
argmax, with any `I-X` that continues no `X` entity replaced by `O`: seqeval's strict mode
ignores such tags anyway, so the score is unchanged, and the written predictions are valid
IOB2, on which lenient scorers such as `conlleval` agree with seqeval.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignscope.data.ner import IobSource, read_iob, write_iob
from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import Sentence
from alignscope.errors import AlignscopeError, DataFormatError
from alignscope.tasks.base import Labels
from alignscope.tasks.metrics import span_scores
from alignscope.tasks.tagging import WordTagging


def _check_label_set(sentences: Sequence[Sentence], tags: frozenset[str]) -> None:
    for sentence in sentences:
        for position, tag in enumerate(sentence.ner_tags or ()):
            if tag not in tags:
                line = sentence.source.lines[position] \
                    if isinstance(sentence.source, IobSource) else sentence.line
                raise DataFormatError(sentence.path or sentence.location, line,
                                      f"NER tag {tag!r} is outside the model's label set "
                                      f"({', '.join(sorted(tags))})",
                                      "evaluate on data with the entity types of the training "
                                      "set, or map the other types to O")


def strict_iob2(tags: Sequence[str]) -> list[str]:
    """Replace each `I-X` that continues no `X` entity by `O`, as seqeval's strict mode reads it."""
    repaired: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "O"
        repaired.append(tag)
        previous = tag
    return repaired


class NamedEntityRecognition(WordTagging):
    name = "ner"
    label_key = "ner"
    main_metric = "f1"
    data_format = "iob"

    def read(self, dataset: ResolvedDataset, limit: int | None = None) -> list[Sentence]:
        if dataset.format != "iob":
            raise AlignscopeError(f"{dataset.path}: NER needs an IOB2 file (WikiANN layout "
                                  "`index token tag` or CoNLL-2003 style `token ... tag`)")
        return read_iob(dataset.path, limit=limit)

    def build_labels(self, train: Sequence[Sentence]) -> Labels:
        types = sorted({tag[2:] for s in train for tag in s.ner_tags or () if tag != "O"})
        return {"ner": ["O", *(f"{prefix}-{kind}" for kind in types for prefix in "BI")]}

    def check_labels(self, sentences: Sequence[Sentence], labels: Labels) -> None:
        _check_label_set(sentences, frozenset(labels["ner"]))

    def gold(self, sentence: Sentence) -> Sequence[str]:
        return sentence.ner_tags or ()

    def repair(self, tags: list[str]) -> list[str]:
        return strict_iob2(tags)

    def score(self, sentences: Sequence[Sentence], predictions: Sequence[list[str]],
              labels: Labels) -> dict[str, Any]:
        self.check_labels(sentences, labels)
        for sentence, predicted in zip(sentences, predictions, strict=True):
            if len(predicted) != len(sentence):
                raise AssertionError(f"{sentence.location}: {len(predicted)} tags predicted "
                                     f"for {len(sentence)} tokens")
        return span_scores([s.ner_tags or () for s in sentences], predictions)

    def write_predictions(self, path: Path, sentences: Sequence[Sentence],
                          predictions: Sequence[list[str]]) -> None:
        write_iob(path, sentences, predictions)
