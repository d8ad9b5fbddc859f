"""Measures read from the cosine matrix of paired rows: retrieval, MEXA and margin retrieval.

Row i of `x` and row i of `y` are translations; C[i, j] = cos(x_i, y_j).
  retrieval  top-1 accuracy: forward, the share of rows i whose best column is i; backward,
             the share of columns j whose best row is j. Chance level is 1/n.
  mexa       MEXA's alignment score (Kargaran et al. 2025, cisnlp/Mexa): the share of i whose
             C[i, i] is strictly greater than every other entry of row i and of column i.
  margin     ratio-margin retrieval (Artetxe & Schwenk 2019): top-1 accuracy on
             M[i, j] = C[i, j] / ((r_x(i) + r_y(j)) / 2), where r_x(i) is the mean cosine of
             x_i with its k nearest y rows and r_y(j) that of y_j with its k nearest x rows.
             It discounts "hub" rows that are close to everything.
A pair's cosine matrix is computed once and read in both directions; beyond 2,048 rows it is
read in blocks of rows (never a whole n x n matrix). The half-sample intervals read a matrix
computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from alignscope.errors import ConfigError

_CHUNK_ROWS = 2048  # bounds the similarity block held at once to chunk x n
Blocks = Callable[[], Iterator[tuple[int, Tensor]]]
"""Yields (first row, block of rows) of one direction's score matrix, every time it is called."""


def unit_rows(x: Tensor) -> Tensor:
    x = x.to(torch.float64)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)


def product_blocks(queries: Tensor, keys: Tensor) -> Blocks:
    """Blocks of queries @ keys.T, computed on demand."""
    def blocks() -> Iterator[tuple[int, Tensor]]:
        for start in range(0, queries.shape[0], _CHUNK_ROWS):
            yield start, queries[start:start + _CHUNK_ROWS] @ keys.T
    return blocks


def pair_blocks(x: Tensor, y: Tensor) -> tuple[Blocks, Blocks]:
    """(forward, backward) blocks of x @ y.T and of its transpose: one product when it fits
    in one block (the backward direction reads the transpose), products by blocks otherwise."""
    if x.shape[0] <= _CHUNK_ROWS:
        product = x @ y.T
        return matrix_blocks(product), matrix_blocks(product.T)
    return product_blocks(x, y), product_blocks(y, x)


def matrix_blocks(matrix: Tensor) -> Blocks:
    """Blocks of rows of a matrix already in memory."""
    def blocks() -> Iterator[tuple[int, Tensor]]:
        for start in range(0, matrix.shape[0], _CHUNK_ROWS):
            yield start, matrix[start:start + _CHUNK_ROWS]
    return blocks


@dataclass(frozen=True)
class Direction:
    """Per query row: is its own partner the best key; does it beat every other key strictly
    (for MEXA); the mean score of its k best keys (for the margin). None when not asked."""

    hits: Tensor  # [n] bool
    strict: Tensor | None  # [n] bool
    neighbourhood: Tensor | None  # [n] float64


def _direction(blocks: Blocks, strict: bool, k: int | None) -> Direction:
    hits, wins, neighbourhood = [], [], []
    for start, block in blocks():
        rows = torch.arange(block.shape[0], device=block.device)
        own = rows + start
        hits.append(block.argmax(1) == own)
        if strict:
            others = block.clone()
            others[rows, own] = -torch.inf
            wins.append(block[rows, own] > others.max(1).values)
        if k is not None:
            neighbourhood.append(block.topk(k, dim=1).values.mean(1))
    return Direction(torch.cat(hits), torch.cat(wins) if strict else None,
                     torch.cat(neighbourhood) if k is not None else None)


def _margin_hits(blocks: Blocks, queries: Tensor, keys: Tensor) -> float:
    """Top-1 accuracy on the ratio margin, from the two sides' neighbourhood means."""
    correct = 0
    for start, block in blocks():
        stop = start + block.shape[0]
        margin = block / ((queries[start:stop, None] + keys[None, :]) / 2)
        expected = torch.arange(start, stop, device=block.device)
        correct += int((margin.argmax(1) == expected).sum())
    return correct / queries.shape[0]


def cosine_scores(forward: Blocks, backward: Blocks, n: int, wanted: set[str],
                  margin_k: int = 4) -> dict[str, float]:
    """The requested cosine measures (retrieval, mexa, margin) with their directions.

    `forward` yields blocks of C (x rows against y), `backward` blocks of C^T.
    """
    k = None
    if "margin" in wanted:
        if not 1 <= margin_k < n:
            raise ConfigError(f"margin retrieval needs 1 <= --margin-k < sentences ({n}), "
                              f"got {margin_k}")
        k = margin_k
    strict = "mexa" in wanted
    ahead, back = _direction(forward, strict, k), _direction(backward, strict, k)
    values: dict[str, float] = {}
    if "retrieval" in wanted:
        values.update(_both("retrieval", ahead.hits.double().mean().item(),
                            back.hits.double().mean().item()))
    if ahead.strict is not None and back.strict is not None:
        values["mexa"] = (ahead.strict & back.strict).double().mean().item()
    if k is not None:
        assert ahead.neighbourhood is not None and back.neighbourhood is not None
        values.update(_both("margin",
                            _margin_hits(forward, ahead.neighbourhood, back.neighbourhood),
                            _margin_hits(backward, back.neighbourhood, ahead.neighbourhood)))
    return values


def _both(name: str, forward: float, backward: float) -> dict[str, float]:
    return {name: (forward + backward) / 2, f"{name}-forward": forward,
            f"{name}-backward": backward}


def paired_scores(x: Tensor, y: Tensor, wanted: set[str], margin_k: int = 4) -> dict[str, float]:
    """The cosine measures of raw paired features [n, d] (unit-normalised here)."""
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"cosine measures need paired rows, got {x.shape[0]} and {y.shape[0]}")
    xu, yu = unit_rows(x), unit_rows(y)
    return cosine_scores(*pair_blocks(xu, yu), x.shape[0], wanted, margin_k)


def retrieval_accuracy(x: Tensor, y: Tensor) -> tuple[float, float]:
    """(forward, backward) top-1 accuracy, in blocks: never a full n x n matrix."""
    values = paired_scores(x, y, {"retrieval"})
    return values["retrieval-forward"], values["retrieval-backward"]


def cosine_matrix(x: Tensor, y: Tensor) -> Tensor:
    """The full [n, n] cosine matrix, for the half-sample intervals without recomputation."""
    return unit_rows(x) @ unit_rows(y).T


def subset_scores(cosines: Tensor, rows: Tensor, wanted: set[str],
                  margin_k: int = 4) -> dict[str, float]:
    """The cosine measures among the distinct rows `rows` only, read from the full matrix."""
    block = cosines.index_select(0, rows).index_select(1, rows)
    return cosine_scores(matrix_blocks(block), matrix_blocks(block.T), rows.numel(), wanted,
                         margin_k)
