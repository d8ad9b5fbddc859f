"""Average neuron-wise correlation (ANC, Del & Fishel 2022).

    ANC(X, Y) = 1/d * sum_j |pearson(X[:, j], Y[:, j])|

Neuron j of one language is compared with the same neuron j of the other, across the n paired
sentences: unlike CKA, ANC asks whether the same coordinates carry the same information, which
is what a task head trained on one language reads in another. The absolute value follows the
authors' released code (TartuNLP/xsim). A neuron that is constant on either side has no
correlation and is left out of the mean; if every neuron is, ANC is undefined (NaN).
"""

from __future__ import annotations

import torch
from torch import Tensor

from alignscope.errors import ConfigError


def standardised_columns(x: Tensor) -> Tensor:
    """Each column centred and scaled to unit norm (NaN for a constant column), float64."""
    if x.ndim != 2:
        raise ConfigError(f"ANC needs an [n, d] feature matrix, got shape {tuple(x.shape)}")
    centred = x.to(torch.float64) - x.to(torch.float64).mean(0, keepdim=True)
    norms = centred.norm(dim=0, keepdim=True)
    return centred / torch.where(norms > 0, norms, torch.nan)


def anc_standardised(zx: Tensor, zy: Tensor) -> float:
    """ANC from two `standardised_columns` results."""
    if zx.shape != zy.shape:
        raise ConfigError(f"ANC pairs neuron j with neuron j: it needs the same shape on both "
                          f"sides, got {tuple(zx.shape)} and {tuple(zy.shape)}")
    if zx.shape[0] < 2:
        raise ConfigError(f"ANC needs at least 2 examples, got {zx.shape[0]}")
    return (zx * zy).sum(0).abs().nanmean().item()


def anc(x: Tensor, y: Tensor) -> float:
    return anc_standardised(standardised_columns(x), standardised_columns(y))
