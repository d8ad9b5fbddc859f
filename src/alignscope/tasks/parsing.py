"""Dependency parsing: a biaffine head over word vectors, MST decoding, UAS/LAS.

The model learns the full relations of the training treebank (`nmod:poss` included). Scoring
compares the universal part of DEPREL by default, as the CoNLL 2018 shared task did, or the
full label with `deprel="full"`. A gold relation of an evaluation set that the model never saw
cannot crash anything: it is left out of the label loss and counted as `unknown_deprels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import nn
from torch.nn import functional as F

from alignscope.data.conllu import write_conllu
from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import Sentence
from alignscope.errors import ConfigError
from alignscope.models.biaffine import BiaffineParserHead, ParserOutput
from alignscope.models.decoding import max_spanning_tree
from alignscope.tasks.base import IGNORE_INDEX, Labels, Task, read_annotated_conllu
from alignscope.tasks.metrics import DEPREL_SCORINGS, DeprelScoring, attachment_scores


class ParsePrediction(TypedDict):
    heads: list[int]  # 1-based, 0 for the root
    deprels: list[str]


class DependencyParsing(Task):
    name = "parsing"
    main_metric = "las"
    data_format = "conllu"

    def __init__(self, deprel: DeprelScoring = "universal") -> None:
        if deprel not in DEPREL_SCORINGS:
            raise ConfigError(f"unknown DEPREL scoring {deprel!r}", "use "
                              f"{' or '.join(DEPREL_SCORINGS)}")
        self.deprel_scoring: DeprelScoring = deprel

    def read(self, dataset: ResolvedDataset, limit: int | None = None) -> list[Sentence]:
        return read_annotated_conllu(dataset, limit, "heads", "dependency parsing")

    def build_labels(self, train: Sequence[Sentence]) -> Labels:
        return {"deprels": sorted({rel for sentence in train for rel in sentence.deprels or ()})}

    def build_head(self, hidden_size: int, labels: Labels, dropout: float) -> nn.Module:
        return BiaffineParserHead(hidden_size, len(labels["deprels"]), dropout)

    def targets(self, sentences: Sequence[Sentence], labels: Labels,
                max_words: int) -> dict[str, torch.Tensor]:
        index = {rel: i for i, rel in enumerate(labels["deprels"])}
        heads = torch.full((len(sentences), max_words), IGNORE_INDEX, dtype=torch.long)
        deprels = torch.full((len(sentences), max_words), IGNORE_INDEX, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            heads[row, : len(sentence)] = torch.tensor(sentence.heads or ())
            deprels[row, : len(sentence)] = torch.tensor(
                [index.get(rel, IGNORE_INDEX) for rel in sentence.deprels or ()])
        return {"heads": heads, "deprels": deprels}

    def loss(self, output: ParserOutput, targets: dict[str, torch.Tensor],
             word_mask: torch.Tensor) -> torch.Tensor:
        heads = targets["heads"].to(output.arc_scores.device)
        deprels = targets["deprels"].to(output.arc_scores.device)
        arc_loss = F.cross_entropy(output.arc_scores.flatten(0, 1).float(), heads.flatten(),
                                   ignore_index=IGNORE_INDEX)
        label_logits = output.label_logits(heads)  # relations are learned at the gold heads
        # Summed then divided, so a batch whose relations are all unknown gives 0, not NaN.
        label_loss = F.cross_entropy(label_logits.flatten(0, 1).float(), deprels.flatten(),
                                     ignore_index=IGNORE_INDEX, reduction="sum")
        label_loss = label_loss / (deprels != IGNORE_INDEX).sum().clamp(min=1)
        return arc_loss + label_loss

    def decode(self, output: ParserOutput, word_mask: torch.Tensor,
               labels: Labels) -> list[ParsePrediction]:
        scores = output.arc_scores.detach().double().cpu().numpy()
        lengths = word_mask.sum(-1).tolist()
        heads = [max_spanning_tree(scores[row, :n, : n + 1]) for row, n in enumerate(lengths)]
        padded = torch.zeros(word_mask.shape, dtype=torch.long)
        for row, sentence_heads in enumerate(heads):
            padded[row, : len(sentence_heads)] = torch.tensor(sentence_heads, dtype=torch.long)
        best = output.label_logits(padded.to(output.arc_scores.device)).argmax(-1).cpu()
        return [{"heads": sentence_heads,
                 "deprels": [labels["deprels"][i] for i in best[row, : len(sentence_heads)].tolist()]}
                for row, sentence_heads in enumerate(heads)]

    def score(self, sentences: Sequence[Sentence], predictions: Sequence[ParsePrediction],
              labels: Labels) -> dict[str, Any]:
        for sentence, predicted in zip(sentences, predictions, strict=True):
            if len(predicted["heads"]) != len(sentence):
                raise AssertionError(f"{sentence.location}: {len(predicted['heads'])} heads "
                                     f"predicted for {len(sentence)} words")
        return attachment_scores(
            [s.heads or () for s in sentences], [s.deprels or () for s in sentences],
            [p["heads"] for p in predictions], [p["deprels"] for p in predictions],
            scoring=self.deprel_scoring, known_deprels=frozenset(labels["deprels"]))

    def write_predictions(self, path: Path, sentences: Sequence[Sentence],
                          predictions: Sequence[ParsePrediction]) -> None:
        write_conllu(path, list(sentences), heads=[p["heads"] for p in predictions],
                     deprels=[p["deprels"] for p in predictions])
