"""An encoder with a task head on top of one vector per word."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn
from transformers import PreTrainedModel

from alignscope.models.encoder import no_cache


class WordInputs(Protocol):
    """A batch of sentences as subword windows plus where each word's anchor subword sits."""

    input_ids: torch.Tensor  # [windows, tokens]
    attention_mask: torch.Tensor
    anchor_index: torch.Tensor  # flat token position of each word's anchor
    word_slot: torch.Tensor  # flat [sentence, word] slot of each anchor
    word_mask: torch.Tensor  # [sentences, max_words]


class TaskModel(nn.Module):
    def __init__(self, encoder: PreTrainedModel, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def word_representations(self, batch: WordInputs) -> torch.Tensor:
        """[sentences, max_words, hidden]: each word's anchor vector, stitched across windows."""
        hidden = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                              **no_cache(self.encoder.config)).last_hidden_state
        # The head stays float32 whatever the encoder's weights (--dtype bfloat16), so bf16
        # states are widened; under CUDA autocast the head still computes in bf16.
        hidden = hidden.float()
        flat = hidden.reshape(-1, hidden.shape[-1])
        sentences, max_words = batch.word_mask.shape
        words = flat.new_zeros(sentences * max_words, hidden.shape[-1])
        words = words.index_copy(0, batch.word_slot, flat.index_select(0, batch.anchor_index))
        return words.view(sentences, max_words, -1)

    def forward(self, batch: WordInputs) -> Any:
        return self.head(self.word_representations(batch), batch.word_mask)
