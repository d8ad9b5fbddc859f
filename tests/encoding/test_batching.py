from __future__ import annotations

import torch

from alignscope.encoding.batching import length_grouped_batches, sorted_batches
from alignscope.encoding.collate import collate_words
from alignscope.encoding.words import EncodedSentence


def test_collate_gathers_each_word_from_its_window() -> None:
    one = EncodedSentence(((0, 11, 12, 2),), (0, 0), (1, 2))
    two = EncodedSentence(((0, 21, 2), (0, 22, 23, 24, 2)), (0, 1, 1), (1, 2, 3))
    batch = collate_words([one, two], [1, 0], pad_id=9)
    assert batch.input_ids.shape == (3, 5)
    assert batch.input_ids[0].tolist() == [0, 21, 2, 9, 9]
    assert batch.attention_mask.sum().item() == 3 + 5 + 4
    flat = batch.input_ids.flatten()
    assert flat[batch.anchor_index].tolist() == [21, 23, 24, 11, 12]
    assert batch.word_mask.tolist() == [[True, True, True], [True, True, False]]
    assert batch.word_slot.tolist() == [0, 1, 2, 3, 4]


def test_length_grouping_is_seeded_and_covers_everything() -> None:
    lengths = [(i * 37) % 101 for i in range(1000)]
    first = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(3))
    again = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(3))
    other = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(4))
    assert first == again and first != other
    assert sorted(i for b in first for i in b) == list(range(1000))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in first)
    random_order = torch.randperm(1000, generator=torch.Generator().manual_seed(3)).tolist()
    chunks = [random_order[i:i + 32] for i in range(0, 1000, 32)]
    padded_random = sum(len(b) * max(lengths[i] for i in b) for b in chunks)
    assert padded < 0.8 * padded_random


def test_sorted_batches_are_longest_first() -> None:
    assert sorted_batches([3, 9, 1, 7], max_sentences=2) == [[1, 3], [0, 2]]


def test_sorted_batches_respect_the_token_budget() -> None:
    lengths = [5, 40, 12, 7, 33, 12, 60, 2, 9]
    batches = sorted_batches(lengths, max_tokens=64)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 64
    widths = [max(lengths[i] for i in batch) for batch in batches]
    assert widths == sorted(widths, reverse=True)
    assert [6] in batches and [1] in batches  # over half the budget: alone
    both = sorted_batches(lengths, max_tokens=64, max_sentences=2)
    assert max(len(batch) for batch in both) == 2 and len(both) > len(batches)


def test_padding_cap_starts_a_new_batch() -> None:
    lengths = [100, 95, 89, 50, 46, 44, 10]
    assert sorted_batches(lengths, max_tokens=10_000, max_padding=0.1) == [[0, 1], [2], [3, 4],
                                                                           [5], [6]]
    assert sorted_batches(lengths, max_tokens=10_000) == [list(range(7))]
