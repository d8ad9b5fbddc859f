"""Chu-Liu-Edmonds decoding: always a single-root tree, and the best one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alignscope.models.decoding import max_spanning_tree


def is_single_root_tree(heads: list[int]) -> bool:
    n = len(heads)
    if sum(head == 0 for head in heads) != 1 or not all(0 <= h <= n for h in heads):
        return False
    for start in range(1, n + 1):
        seen, node = set(), start
        while node != 0:
            if node in seen:
                return False
            seen.add(node)
            node = heads[node - 1]
    return True


def tree_score(scores: np.ndarray, heads: list[int]) -> float:
    return float(sum(scores[i, head] for i, head in enumerate(heads)))


def score_matrices(max_words: int) -> st.SearchStrategy[np.ndarray]:
    values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
    return st.integers(1, max_words).flatmap(
        lambda n: arrays(np.float64, (n, n + 1), elements=values))


@settings(max_examples=200, deadline=None)
@given(score_matrices(max_words=25))
def test_decoder_returns_a_single_root_tree(scores: np.ndarray) -> None:
    assert is_single_root_tree(max_spanning_tree(scores))


@settings(max_examples=100, deadline=None)
@given(score_matrices(max_words=4))
def test_decoder_finds_the_best_single_root_tree(scores: np.ndarray) -> None:
    n = scores.shape[0]
    trees = [list(heads) for heads in itertools.product(range(n + 1), repeat=n)
             if is_single_root_tree(list(heads))]
    best = max(tree_score(scores, heads) for heads in trees)
    assert tree_score(scores, max_spanning_tree(scores)) == pytest.approx(best, abs=1e-6)


def test_two_words_preferring_the_root_get_a_single_root() -> None:
    # Both words prefer the root; the second is the better root, the first attaches to it.
    scores = np.array([[5.0, 0.0, 1.0],
                       [9.0, 2.0, 0.0]])
    assert max_spanning_tree(scores) == [2, 0]


def test_cycle_is_broken_at_its_cheapest_arc() -> None:
    # Greedy heads form the cycle 1 <-> 2; entering at word 1 loses least.
    scores = np.array([[4.0, 0.0, 10.0, 0.0],
                       [1.0, 10.0, 0.0, 0.0],
                       [0.0, 0.0, 5.0, 0.0]])
    assert max_spanning_tree(scores) == [0, 1, 2]


def test_self_loop_scores_are_ignored() -> None:
    scores = np.array([[1.0, 1e9, 0.0], [0.0, 2.0, 1e9]])
    assert max_spanning_tree(scores) == [0, 1]


def test_rejects_bad_shapes_and_non_finite_scores() -> None:
    with pytest.raises(ValueError, match="shape"):
        max_spanning_tree(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        max_spanning_tree(np.array([[np.nan, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert max_spanning_tree(np.zeros((0, 1))) == []
