"""Task heads. Every head reads word representations [batch, words, hidden] and a word mask."""

from __future__ import annotations

import torch
from torch import nn


class TaggerHead(nn.Module):
    """A linear classifier over each word's representation (UPOS, NER)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, words: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(words))
