"""Length-grouped batches with dynamic padding, and the tensors a task model consumes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from alignscope.training.alignment import EncodedSentence


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


def collate(encoded: Sequence[EncodedSentence], indices: Sequence[int], pad_id: int) -> WordBatch:
    items = [encoded[i] for i in indices]
    windows = [window for item in items for window in item.windows]
    width = max(len(window) for window in windows)
    input_ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        input_ids[row, : len(window)] = torch.tensor(window, dtype=torch.long)
        attention_mask[row, : len(window)] = 1
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


def length_grouped_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                           group_factor: int = 50) -> list[list[int]]:
    """Shuffled batches of similar-length items (HF-style mega-batches), for training.

    Items are shuffled, cut into groups of `group_factor` batches, sorted by length inside each
    group, batched, and the batches shuffled again, so padding is small and order still random.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    group = batch_size * group_factor
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: -lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Deterministic batches in decreasing length, for evaluation and extraction."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]
