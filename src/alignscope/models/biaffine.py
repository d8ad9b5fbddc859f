"""Graph-based biaffine dependency parser head (Dozat & Manning, 2017).

Word vectors go through four MLPs (arc-dependent, arc-head: 500 units; label-dependent,
label-head: 200 units). A biaffine scorer gives every (word, head) pair an arc score, the
root being a learned vector prepended to the sentence; a second biaffine scorer gives the
relation labels. Label scores are computed only for the chosen heads (gold heads in
training, decoded heads at evaluation): scoring every pair for every label would cost
sentence-length times more for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class Biaffine(nn.Module):
    """score_o(x, y) = [x; 1]ᵀ U_o [y; 1], with the constant 1 appended where a bias is wanted."""

    def __init__(self, dependent_size: int, head_size: int, out_features: int, *,
                 dependent_bias: bool, head_bias: bool) -> None:
        super().__init__()
        self.dependent_bias, self.head_bias = dependent_bias, head_bias
        # Zero init, as Dozat & Manning: all pairs start equally likely.
        self.weight = nn.Parameter(torch.zeros(out_features, dependent_size + dependent_bias,
                                               head_size + head_bias))

    @staticmethod
    def _with_one(x: torch.Tensor, bias: bool) -> torch.Tensor:
        return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1) if bias else x

    def all_pairs(self, dependents: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
        """[batch, D, i] x [batch, H, j] -> [batch, out, D, H]."""
        x = self._with_one(dependents, self.dependent_bias)
        y = self._with_one(heads, self.head_bias)
        return torch.einsum("bdi,oij,bhj->bodh", x, self.weight.to(x.dtype), y)

    def aligned_pairs(self, dependents: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
        """[batch, W, i] x [batch, W, j] (the head of each word) -> [batch, W, out]."""
        x = self._with_one(dependents, self.dependent_bias)
        y = self._with_one(heads, self.head_bias)
        # Decoding runs outside autocast on vectors made inside it (bf16), hence the cast.
        return torch.einsum("bwi,oij,bwj->bwo", x, self.weight.to(x.dtype), y)


def _mlp(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features), nn.LeakyReLU(0.1),
                         nn.Dropout(dropout))


@dataclass
class ParserOutput:
    """What the parser head computes for a batch; label scores are made on demand."""

    arc_scores: torch.Tensor  # [batch, W, W + 1]: head h (0 = root) of word i + 1
    label_dependents: torch.Tensor  # [batch, W, label_size]
    label_heads: torch.Tensor  # [batch, W + 1, label_size], position 0 is the root
    label_scorer: Biaffine

    def label_logits(self, heads: torch.Tensor) -> torch.Tensor:
        """Relation scores [batch, W, labels] of each word with the given head [batch, W]."""
        index = heads.clamp(min=0).unsqueeze(-1).expand(-1, -1, self.label_heads.size(-1))
        return self.label_scorer.aligned_pairs(self.label_dependents,
                                               self.label_heads.gather(1, index))


class BiaffineParserHead(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.33,
                 arc_size: int = 500, label_size: int = 200) -> None:
        super().__init__()
        self.root = nn.Parameter(torch.randn(hidden_size) * 0.02)
        self.dropout = nn.Dropout(dropout)
        self.arc_dependent = _mlp(hidden_size, arc_size, dropout)
        self.arc_head = _mlp(hidden_size, arc_size, dropout)
        self.label_dependent = _mlp(hidden_size, label_size, dropout)
        self.label_head = _mlp(hidden_size, label_size, dropout)
        # A head-only bias term (prior of being a head) matters for arcs; a dependent-only
        # term would be constant over the candidate heads, so it is left out.
        self.arc_scorer = Biaffine(arc_size, arc_size, 1, dependent_bias=True, head_bias=False)
        self.label_scorer = Biaffine(label_size, label_size, num_labels,
                                     dependent_bias=True, head_bias=True)

    def forward(self, words: torch.Tensor, word_mask: torch.Tensor) -> ParserOutput:
        batch, num_words, _ = words.shape
        root = self.root.to(words.dtype).expand(batch, 1, -1)
        nodes = self.dropout(torch.cat([root, words], dim=1))
        dependents = nodes[:, 1:]
        arc_scores = self.arc_scorer.all_pairs(self.arc_dependent(dependents),
                                               self.arc_head(nodes)).squeeze(1)
        head_mask = torch.cat([word_mask.new_ones(batch, 1), word_mask], dim=1)
        positions = torch.arange(num_words, device=words.device)
        self_loop = positions[:, None] + 1 == torch.arange(num_words + 1, device=words.device)
        impossible = ~head_mask[:, None, :] | self_loop
        arc_scores = arc_scores.masked_fill(impossible, torch.finfo(arc_scores.dtype).min)
        return ParserOutput(arc_scores, self.label_dependent(dependents),
                            self.label_head(nodes), self.label_scorer)
