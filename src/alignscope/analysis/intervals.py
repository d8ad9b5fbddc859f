"""Means with Student-t intervals: over seeds (sweeps) and over items (lens, neurons)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

CONFIDENCE = 0.95


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE,
               ) -> tuple[float | None, float | None]:
    """Student-t interval for the mean; undefined (None) below two values."""
    if len(values) < 2:
        return None, None
    from scipy import stats

    mean = statistics.fmean(values)
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * statistics.stdev(values) \
        / math.sqrt(len(values))
    return mean - half, mean + half


def summary(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, float | None]:
    """{mean, low, high, n}: the mean over items with its t-interval."""
    low, high = t_interval(values, confidence)
    return {"mean": statistics.fmean(values) if values else None, "low": low, "high": high,
            "n": len(values)}
