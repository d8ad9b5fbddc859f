"""LAPE: language activation probability entropy (Tang et al., ACL 2024, §2.2).

With p[l, n, k] the activation probability of neuron n of layer l on language k:

    q[l, n, k]  = p[l, n, k] / sum_k p[l, n, k]            (0 where a neuron never fires)
    LAPE[l, n]  = -sum_k q log q                          (natural log, 0 log 0 = 0)

Selection, with the published parameters as defaults (the paper, and `identify.py` of
github.com/RUCAIBox/Language-Specific-Neurons):

  filter_rate 0.95     a neuron is a candidate only if, in at least one language, its
                       probability exceeds the 95th percentile of all probabilities
                       (every layer, neuron and language)
  top_rate 0.01        the candidates with the lowest LAPE, 1 % of all neurons (the repository
                       also holds a version with 0.05)
  bar_ratio 0.95       a selected neuron belongs to language k when p[l, n, k] exceeds the
                       95th percentile of all probabilities; it may belong to several

Percentiles are the repository's: the k-th smallest value with k = round(N x rate) (1-based,
`torch.kthvalue`). Ties in LAPE are broken by position (layer, then neuron): the repository's
`topk` leaves their order unspecified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class LapeOptions:
    top_rate: float = 0.01
    filter_rate: float = 0.95
    bar_ratio: float = 0.95


def lape_entropy(probability: torch.Tensor) -> torch.Tensor:
    """[layers, neurons] entropy of each neuron's normalised probabilities over languages."""
    total = probability.sum(-1, keepdim=True)
    normed = torch.where(total > 0, probability / total.clamp_min(1e-300), 0.0)
    logs = torch.where(normed > 0, normed.clamp_min(1e-300).log(), 0.0)
    return -(normed * logs).sum(-1)


def _kth(values: torch.Tensor, rate: float) -> float:
    """The repository's percentile: the round(N x rate)-th smallest value (at least the 1st)."""
    k = min(max(round(values.numel() * rate), 1), values.numel())
    return float(values.kthvalue(k).values)


@dataclass
class Selection:
    masks: torch.Tensor  # [languages, layers, neurons] bool
    entropy: torch.Tensor  # [layers, neurons]
    thresholds: dict[str, float]
    candidates: int  # neurons above the filter threshold in some language
    selected: int  # neurons with the lowest entropy (before the per-language bar)

    def neurons(self, language: int) -> list[torch.Tensor]:
        """Per layer, the indices of `language`'s neurons."""
        return [torch.nonzero(layer).flatten() for layer in self.masks[language]]

    def counts(self) -> torch.Tensor:
        """[languages, layers]: neurons per language and layer."""
        return self.masks.sum(-1)

    def summary(self, options: LapeOptions) -> dict[str, Any]:
        return {**asdict(options), **self.thresholds, "candidates": self.candidates,
                "lowest_entropy": self.selected}


def select_neurons(probability: torch.Tensor, options: LapeOptions = LapeOptions()) -> Selection:
    """`probability`: [layers, neurons, languages]."""
    probability = probability.double()
    layers, neurons, languages = probability.shape
    entropy = lape_entropy(probability)
    flat = probability.flatten()
    filter_value = _kth(flat, options.filter_rate)
    candidate = (probability > filter_value).any(-1)
    ranked = torch.where(candidate, entropy, torch.inf).flatten()
    count = round(ranked.numel() * options.top_rate)
    order = torch.argsort(ranked, stable=True)[:count]
    bar = _kth(flat, options.bar_ratio)
    masks = torch.zeros(languages, layers * neurons, dtype=torch.bool)
    chosen = probability.reshape(layers * neurons, languages)[order]  # [count, languages]
    for language in range(languages):
        masks[language, order[chosen[:, language] > bar]] = True
    return Selection(masks.reshape(languages, layers, neurons), entropy.float(),
                     {"filter_value": filter_value, "activation_bar": bar},
                     int(candidate.sum()), int(count))
