"""Per-dimension statistics of pooled features, one layer at a time: do a few outlier
dimensions dominate?

Decoder LLMs carry a handful of hidden dimensions whose activations are orders of magnitude
larger than the rest ("rogue dimensions", Timkey & van Schijndel 2021; "massive activations",
Sun et al. 2024). A linear kernel on centred features weighs each dimension by its variance, a
cosine by its mean square, so such dimensions can decide linear CKA, retrieval and MEXA alone.
For one layer's features [n, d]:

  max_abs_mean     the largest |mean| of a dimension over the rows
  median_abs_mean  the median |mean| of a dimension: the scale of an ordinary one
  kurtosis         the excess kurtosis of each row's d values, averaged over rows (Bondarenko
                   et al. 2021): near 0 when no dimension stands out, up to about d when one does
  variance_top1    the share of the total variance held by the highest-variance dimension
  variance_top3    the same for the three highest: what drives linear CKA
  mean_cosine      the mean cosine between two distinct rows (anisotropy)
  cosine_top3      the share of that mean cosine contributed by the three dimensions that
                   contribute most (Timkey & van Schijndel's CC_i): what drives cosine retrieval
  top_dimensions   the indices of the three highest-variance dimensions

`--standardise` (adjust.py) is the remedy these papers use: each dimension scaled to unit
variance before any measure.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

TOP = 3


def dimension_statistics(hidden: Tensor) -> dict[str, Any]:
    """The statistics above for one layer's features [n, d] (n >= 2), in float64."""
    x = hidden.to(torch.float64)
    n = x.shape[0]
    means, variances = x.mean(0), x.var(0)
    top = variances.argsort(descending=True)[:TOP]
    rows = x - x.mean(1, keepdim=True)
    second = rows.pow(2).mean(1)
    kurtosis = rows.pow(4).mean(1) / second.pow(2).where(second > 0, torch.nan) - 3
    unit = x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)
    sums = unit.sum(0)
    # sum over pairs i != j of u_i[k] u_j[k], per dimension k, over the n (n - 1) pairs
    contributions = (sums.pow(2) - unit.pow(2).sum(0)) / (n * (n - 1))
    mean_cosine = contributions.sum()
    total = variances.sum()
    return {
        "max_abs_mean": means.abs().max().item(),
        "median_abs_mean": means.abs().quantile(0.5).item(),
        "kurtosis": kurtosis.nanmean().item(),
        "variance_top1": (variances[top[:1]].sum() / total).item() if total > 0 else None,
        "variance_top3": (variances[top].sum() / total).item() if total > 0 else None,
        "mean_cosine": mean_cosine.item(),
        "cosine_top3": (contributions.sort(descending=True).values[:TOP].sum()
                        / mean_cosine).item() if mean_cosine != 0 else None,
        "top_dimensions": top.tolist(),
    }

