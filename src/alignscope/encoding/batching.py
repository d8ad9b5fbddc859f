"""The one batcher: length-sorted batches capped by sentence count and/or padded tokens.

`sorted_batches` serves evaluation, prediction and feature extraction (deterministic, longest
first); `length_grouped_batches` serves training (shuffled, similar lengths together).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sorted_batches(lengths: Sequence[int], *, max_sentences: int | None = None,
                   max_tokens: int | None = None, max_padding: float = 1.0) -> list[list[int]]:
    """Deterministic batches in decreasing length (ties by index). A batch holds at most
    `max_sentences` items and at most `max_tokens` padded tokens (items x its longest item);
    an item longer than `max_tokens` goes alone. An item shorter than its batch's longest by
    more than the fraction `max_padding` starts a new batch, so few padded positions are
    computed (the long tail of a corpus would otherwise pad whole batches)."""
    if max_sentences is None and max_tokens is None:
        raise ValueError("give max_sentences, max_tokens or both")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else 0
        full = bool(current) and (
            (max_sentences is not None and len(current) >= max_sentences)
            or (max_tokens is not None and (len(current) + 1) * width > max_tokens)
            or lengths[index] < (1 - max_padding) * width)
        if full:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


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


def unpadded_batches(lengths: Sequence[int], max_tokens: int,
                     max_sentences: int = 64) -> list[list[int]]:
    """Batches of inputs of one length each, so that no batch holds a padding token: every
    input is computed exactly as alone, whatever the architecture does with masks."""
    return sorted_batches(lengths, max_tokens=max_tokens, max_sentences=max_sentences,
                          max_padding=0.0)
