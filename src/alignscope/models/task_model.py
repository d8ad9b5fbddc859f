"""An encoder with a task head on top of one vector per word."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from alignscope.encoding.collate import WordBatch


class TaskModel(nn.Module):
    def __init__(self, encoder: PreTrainedModel, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def word_representations(self, batch: WordBatch) -> torch.Tensor:
        """[sentences, max_words, hidden]: each word's anchor vector, stitched across windows."""
        hidden = self.encoder(input_ids=batch.input_ids,
                              attention_mask=batch.attention_mask).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])
        sentences, max_words = batch.word_mask.shape
        words = flat.new_zeros(sentences * max_words, hidden.shape[-1])
        words = words.index_copy(0, batch.word_slot, flat.index_select(0, batch.anchor_index))
        return words.view(sentences, max_words, -1)

    def forward(self, batch: WordBatch) -> Any:
        return self.head(self.word_representations(batch), batch.word_mask)
