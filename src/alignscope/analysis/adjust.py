"""Adjustments of pooled features applied before any measure.

centred         each language's mean vector removed, per layer (Libovicky et al. 2020).
partial_length  each language's features residualised on a smooth basis of its own sentence
                lengths, per layer: what remains cannot be predicted linearly from length.
                Mean-pooled vectors carry length (the averaged position embeddings, the
                1/sqrt(length) shrinkage of an average), translations have correlated lengths,
                so CKA reads length as similarity; a randomly initialised model scores high for
                that reason alone. Partialling removes the confound from every condition.

standardise     each language's dimensions centred and scaled to unit variance, per layer
                (z-scores; Timkey & van Schijndel 2021). Decoder LLMs carry a few "rogue" or
                "massive" dimensions thousands of times larger than the rest (dimensions.py);
                linear CKA weighs each dimension by its variance and a cosine by its mean
                square, so those few decide the measure. Standardised, every dimension counts
                once. A constant dimension becomes 0.

Each acts on one layer at a time, when it is read (features.Features.adjusted); standardise
comes last.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from alignscope.analysis.features import Features
from alignscope.errors import ConfigError


def centre(hidden: Tensor) -> Tensor:
    """[..., n, dim] minus its mean over the n rows."""
    return hidden - hidden.mean(-2, keepdim=True)


def centred(features: dict[str, Features]) -> dict[str, Features]:
    return {lang: f.adjusted(centre) for lang, f in features.items()}


def length_basis(lengths: Tensor) -> Tensor:
    """[n, 5] float64: 1, log T, 1/T, 1/sqrt T, T / mean T (T = input ids per sentence)."""
    if lengths.min() < 1:
        raise ConfigError("length partialling needs sentences of at least one token")
    t = lengths.to(torch.float64)
    return torch.stack([torch.ones_like(t), t.log(), 1 / t, t.rsqrt(), t / t.mean()], 1)


def column_space(basis: Tensor) -> Tensor:
    """An orthonormal basis [n, r] of the span of `basis` [n, k]. Few distinct lengths make
    the basis rank-deficient: keep only the directions it spans."""
    u, singular, _ = torch.linalg.svd(basis, full_matrices=False)
    return u[:, singular > singular.max() * basis.shape[0] * torch.finfo(torch.float64).eps]


def residual(hidden: Tensor, space: Tensor) -> Tensor:
    """`hidden` [..., n, dim] minus its least-squares fit on the orthonormal columns `space`."""
    if space.shape[0] != hidden.shape[-2]:
        raise ConfigError(f"{space.shape[0]} lengths for {hidden.shape[-2]} rows")
    values = hidden.to(torch.float64)
    fitted = space @ (space.T @ values)  # broadcasts over leading (layer) dimensions
    return (values - fitted).to(hidden.dtype)


def partial_out(hidden: Tensor, basis: Tensor) -> Tensor:
    """`hidden` [..., n, dim] (one layer, or [layers, n, dim]) minus its least-squares fit on
    `basis` [n, k]."""
    return residual(hidden, column_space(basis))


def length_partialled(features: dict[str, Features]) -> dict[str, Features]:
    """Sentence-level features (one row per sentence) with their length component removed."""
    return {lang: f.adjusted(functools.partial(
        residual, space=column_space(length_basis(f.sentence_tokens))))
        for lang, f in features.items()}


def standardise(hidden: Tensor) -> Tensor:
    """[..., n, dim] with each column centred and scaled to unit (population) variance over
    the n rows; a constant column becomes 0."""
    values = hidden.to(torch.float64)
    centred_values = values - values.mean(-2, keepdim=True)
    scale = centred_values.pow(2).mean(-2, keepdim=True).sqrt()
    return (centred_values / scale.where(scale > 0, 1.0)).to(hidden.dtype)


def standardised(features: dict[str, Features]) -> dict[str, Features]:
    return {lang: f.adjusted(standardise) for lang, f in features.items()}
