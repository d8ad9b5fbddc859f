"""Cosine-similarity sentence retrieval: an alignment measure that needs no kernel.

Row i of `x` and row i of `y` are translations. Forward accuracy is the share of rows i whose
nearest `y` row (by cosine) is row i; backward swaps the roles. Chance level is 1/n.
"""

from __future__ import annotations

import torch
from torch import Tensor

_CHUNK_ROWS = 2048  # bounds the similarity block held at once to chunk x n


def _unit_rows(x: Tensor) -> Tensor:
    x = x.to(torch.float64)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)


def _top1_share(queries: Tensor, keys: Tensor) -> float:
    correct = 0
    for start in range(0, queries.shape[0], _CHUNK_ROWS):
        block = queries[start:start + _CHUNK_ROWS] @ keys.T
        expected = torch.arange(start, start + block.shape[0], device=block.device)
        correct += int((block.argmax(1) == expected).sum())
    return correct / queries.shape[0]


def retrieval_accuracy(x: Tensor, y: Tensor) -> tuple[float, float]:
    """(forward, backward) top-1 accuracy, in chunks: never a full n x n matrix."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"retrieval needs paired rows, got {x.shape[0]} and {y.shape[0]}")
    xu, yu = _unit_rows(x), _unit_rows(y)
    return _top1_share(xu, yu), _top1_share(yu, xu)


def cosine_matrix(x: Tensor, y: Tensor) -> Tensor:
    """The full [n, n] cosine matrix, for the half-sample intervals without recomputation."""
    return _unit_rows(x) @ _unit_rows(y).T


def subset_retrieval(cosines: Tensor, rows: Tensor) -> tuple[float, float]:
    """Retrieval among the distinct rows `rows` only, read from the full cosine matrix."""
    block = cosines[rows][:, rows]
    expected = torch.arange(rows.numel(), device=block.device)
    forward = (block.argmax(1) == expected).double().mean()
    backward = (block.argmax(0) == expected).double().mean()
    return float(forward), float(backward)
