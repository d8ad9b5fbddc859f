"""The similarity measures written from their published definitions in plain numpy, for tests
that check alignscope's values against an independent computation."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), columns centred."""
    x, y = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def mexa(x: np.ndarray, y: np.ndarray) -> float:
    """MEXA (Kargaran et al. 2025): the share of i whose cosine C[i, i] is strictly greater than
    every other entry of row i and of column i."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    c = x @ y.T
    return float(np.mean([c[i, i] > max(np.delete(c[i], i).max(), np.delete(c[:, i], i).max())
                          for i in range(len(c))]))


def z_scores(x: np.ndarray) -> np.ndarray:
    """Each column centred and divided by its (population) standard deviation."""
    return (x - x.mean(0)) / x.std(0)
