"""Padding and collation: the one place token windows become model inputs.

Rows are padded on the RIGHT for every model, encoders and causal decoders alike. A plain
forward pass numbers positions 0, 1, 2... whatever the mask says, so right padding leaves each
real token at the position it has unbatched, and causal attention never lets a real token see
the pads after it: batched features equal one-at-a-time features. (Left padding, the
convention of `generate`, would shift a causal model's positions unless position ids are
passed.) The tokenizer's own `padding_side` is therefore not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from alignscope.encoding.words import EncodedSentence


def pad_id_of(tokenizer: object) -> int:
    """The tokenizer's pad id; 0 when it has none (pads are masked out: any id will do)."""
    pad = getattr(tokenizer, "pad_token_id", None)
    return 0 if pad is None else int(pad)


def pad_windows(windows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask [rows, longest], right-padded."""
    width = max(len(window) for window in windows)
    input_ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        input_ids[row, : len(window)] = torch.tensor(window, dtype=torch.long)
        attention_mask[row, : len(window)] = 1
    return input_ids, attention_mask


@dataclass
class WordBatch:
    """Padded subword windows plus the index maps that gather one vector per word."""

    input_ids: torch.Tensor  # [windows, tokens]
    attention_mask: torch.Tensor  # [windows, tokens]
    anchor_index: torch.Tensor  # [words in batch]: flat index into windows * tokens
    word_slot: torch.Tensor  # [words in batch]: flat index into sentences * max_words
    word_mask: torch.Tensor  # [sentences, max_words] bool
    sentence_indices: list[int]  # positions of these sentences in the dataset

    @property
    def num_words(self) -> int:
        return int(self.anchor_index.numel())

    def to(self, device: torch.device) -> WordBatch:
        return WordBatch(
            self.input_ids.to(device, non_blocking=True),
            self.attention_mask.to(device, non_blocking=True),
            self.anchor_index.to(device, non_blocking=True),
            self.word_slot.to(device, non_blocking=True),
            self.word_mask.to(device, non_blocking=True),
            self.sentence_indices,
        )


def collate_words(encoded: Sequence[EncodedSentence], indices: Sequence[int],
                  pad_id: int) -> WordBatch:
    items = [encoded[i] for i in indices]
    input_ids, attention_mask = pad_windows(
        [window for item in items for window in item.windows], pad_id)
    width = input_ids.shape[1]
    max_words = max(item.num_words for item in items)
    anchors, slots = [], []
    first_window = 0
    for sentence, item in enumerate(items):
        for word, (window, position) in enumerate(zip(item.word_window, item.word_position,
                                                      strict=True)):
            anchors.append((first_window + window) * width + position)
            slots.append(sentence * max_words + word)
        first_window += len(item.windows)
    word_mask = torch.zeros((len(items), max_words), dtype=torch.bool)
    for sentence, item in enumerate(items):
        word_mask[sentence, : item.num_words] = True
    return WordBatch(input_ids, attention_mask, torch.tensor(anchors, dtype=torch.long),
                     torch.tensor(slots, dtype=torch.long), word_mask, list(indices))
