"""Dataset-level metrics shared by the tasks, computed as the community's scorers do.

Attachment scores follow the CoNLL 2018 shared task evaluation (`conll18_ud_eval.py`) with
gold tokenisation: every syntactic word counts, punctuation included; DEPREL is compared on
its universal part (`nmod:poss` -> `nmod`) unless full labels are asked for. Entity scores are
seqeval's strict IOB2 span precision/recall/F1 (an entity counts when type and both bounds
match; an `I-X` that starts nothing in a prediction is no entity).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, Entities

# How tables and figures name the metric keys the tasks write.
METRIC_LABELS = {"upos_accuracy": "UPOS accuracy", "las": "LAS", "uas": "UAS",
                 "f1": "entity F1",
                 "precision": "entity precision", "recall": "entity recall"}


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


DeprelScoring = Literal["universal", "full"]
DEPREL_SCORINGS: tuple[str, ...] = ("universal", "full")


def scored_relation(deprel: str, scoring: DeprelScoring) -> str:
    return deprel.split(":", 1)[0] if scoring == "universal" else deprel


def attachment_scores(gold_heads: Sequence[Sequence[int]], gold_deprels: Sequence[Sequence[str]],
                      predicted_heads: Sequence[Sequence[int]],
                      predicted_deprels: Sequence[Sequence[str]], *,
                      scoring: DeprelScoring = "universal",
                      known_deprels: frozenset[str] | None = None) -> dict[str, float | int]:
    """UAS and LAS (fractions) over all words; with `known_deprels` (the model's relation set),
    gold relations the model cannot predict are counted as `unknown_deprels` (scored as
    errors, which they are for any prediction)."""
    known = None if known_deprels is None else {scored_relation(r, scoring) for r in known_deprels}
    words = attached = labelled = unknown = 0
    sentences = zip(gold_heads, gold_deprels, predicted_heads, predicted_deprels, strict=True)
    for heads, deprels, heads_out, deprels_out in sentences:
        if not len(heads) == len(deprels) == len(heads_out) == len(deprels_out):
            raise ValueError("gold and predicted sentences differ in length")
        for head, deprel, head_out, deprel_out in zip(heads, deprels, heads_out, deprels_out,
                                                      strict=True):
            relation = scored_relation(deprel, scoring)
            words += 1
            unknown += known is not None and relation not in known
            if head == head_out:
                attached += 1
                labelled += relation == scored_relation(deprel_out, scoring)
    return {"uas": attached / words if words else 0.0, "las": labelled / words if words else 0.0,
            "words": words, "unknown_deprels": unknown}


def span_scores(gold_tags: Sequence[Sequence[str]],
                predicted_tags: Sequence[Sequence[str]]) -> dict[str, float | int]:
    """Strict IOB2 entity precision, recall and F1 (fractions), with seqeval."""
    gold = [list(tags) for tags in gold_tags]
    predicted = [list(tags) for tags in predicted_tags]
    options = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "precision": float(precision_score(gold, predicted, **options)),
        "recall": float(recall_score(gold, predicted, **options)),
        "f1": float(f1_score(gold, predicted, **options)),
        "gold_entities": _count_entities(gold),
        "predicted_entities": _count_entities(predicted),
        "words": sum(len(tags) for tags in gold),
    }


def _count_entities(tags: list[list[str]]) -> int:
    return sum(len(sentence) for sentence in Entities(tags, IOB2).entities)
