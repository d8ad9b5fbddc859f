"""The similarity measures: one registry entry per name, grouped in families that share work.

Measures (the names used in options, results and files):
  linear        linear CKA, feature space
  debiased      linear CKA with the unbiased HSIC estimator (shares linear's cross product)
  rbf           RBF CKA, median bandwidth per side
  debiased-rbf  RBF CKA with the unbiased HSIC estimator
  anc           average neuron-wise correlation (Del & Fishel 2022; anc.py)
  retrieval     cosine top-1 retrieval accuracy, mean of both directions (also stored per
                direction as retrieval-forward / retrieval-backward)
  mexa          MEXA's alignment score (retrieval.py)
  margin        ratio-margin top-1 retrieval, k nearest neighbours (`margin_k`), both
                directions like retrieval

A family prepares each side once per layer (centred features, a kernel matrix, unit rows,
standardised columns); a prepared side can be permuted (the shuffled control) without being
prepared again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from alignscope.analysis import MEASURES
from alignscope.analysis.anc import anc_standardised, standardised_columns
from alignscope.analysis.cka import (
    GramSide,
    LinearSide,
    gram_cka,
    linear_cka_pair,
    prepare_linear,
    prepare_rbf,
)
from alignscope.analysis.retrieval import cosine_scores, pair_blocks, subset_scores, unit_rows
from alignscope.errors import ConfigError

MAX_SQUARE_ROWS = 12_000  # an n x n float64 matrix beyond this passes 1 GiB
Draws = dict[str, list[dict[str, float]]]  # target -> one value dict per half-sample


def check_square(rows: int, what: str) -> None:
    if rows > MAX_SQUARE_ROWS:
        raise ConfigError(f"{what} needs an n x n matrix and {rows} rows would take "
                          f"{rows * rows * 8 / 2**30:.1f} GiB; lower --max-sentences or use the "
                          "linear measures")


class MeasuredSide(Protocol):
    """One side of a comparison as the families read it (compare.LayerSides): its layers'
    features and their prepared forms, kept between measures."""

    @property
    def rows(self) -> int: ...

    def layer(self, layer: int) -> Tensor: ...

    def prepared(self, family: Family, layer: int) -> Any: ...


@dataclass(frozen=True)
class MeasureOptions:
    measures: tuple[str, ...] = ("linear", "debiased", "rbf", "retrieval")
    half_samples: int = 0  # half-sample splits; 0 = no intervals
    confidence: float = 0.95
    layer_matrix: bool = False
    seed: int = 0
    margin_k: int = 4  # neighbours for the margin (Artetxe & Schwenk use 4)

    def __post_init__(self) -> None:
        if not self.measures:
            raise ConfigError("give at least one measure, e.g. --measures linear")
        for name in self.measures:
            MEASURES.check(name)
        if self.half_samples < 0:
            raise ConfigError("--half-samples must be 0 (off) or a number of half-sample splits")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"--confidence must lie in (0, 1), got {self.confidence}")
        if self.margin_k < 1:
            raise ConfigError(f"--margin-k must be at least 1, got {self.margin_k}")

    def check_sentences(self, count: int) -> None:
        """Refuse, before any extraction, measures that `count` sentences per sample (half of
        them with intervals) cannot carry."""
        if self.half_samples and count < 8:
            raise ConfigError(f"intervals (--half-samples) need at least 8 sentences, got {count}")
        smallest = count // 2 if self.half_samples else count
        if "margin" in self.measures and self.margin_k >= smallest:
            raise ConfigError(f"--margin-k {self.margin_k} needs more than {self.margin_k} "
                              f"sentences per sample, and there are {smallest}"
                              f"{' (half of them, for the intervals)' if self.half_samples else ''}; "
                              "lower --margin-k or use more sentences")

    @property
    def result_keys(self) -> tuple[str, ...]:
        return tuple(key for name in self.measures for key in MEASURES[name].keys)


class Family:
    """How a group of measures is computed; subclasses fill in the four steps."""

    name = ""

    def prepare(self, hidden: Tensor) -> Any:
        raise NotImplementedError

    def permute(self, prepared: Any, permutation: Tensor) -> Any:
        """The prepared side of hidden[permutation], from the prepared side of hidden; a side
        prepared row by row (a tensor) is permuted by indexing its rows."""
        return prepared[permutation]

    def values(self, a: Any, b: Any, wanted: set[str], options: MeasureOptions,
               ) -> dict[str, float]:
        raise NotImplementedError

    def draws(self, x: MeasuredSide, ys: Mapping[str, MeasuredSide], layer: int,
              parts: Sequence[Tensor], wanted: set[str], options: MeasureOptions) -> Draws:
        """The values on each half-sample `parts[k]`, for each target."""
        raise NotImplementedError


class SideFamily(Family):
    """A half-sample is prepared per side: each source half is prepared once, for all targets."""

    def subset(self, prepared: Any, hidden: Tensor, rows: Tensor) -> Any:
        raise NotImplementedError

    def draws(self, x: MeasuredSide, ys: Mapping[str, MeasuredSide], layer: int,
              parts: Sequence[Tensor], wanted: set[str], options: MeasureOptions) -> Draws:
        results: Draws = {name: [] for name in ys}
        for rows in parts:
            source = self.subset(x.prepared(self, layer), x.layer(layer), rows)
            for name, y in ys.items():
                target = self.subset(y.prepared(self, layer), y.layer(layer), rows)
                results[name].append(self.values(source, target, wanted, options))
        return results


class LinearFamily(SideFamily):
    name = "linear"

    def prepare(self, hidden: Tensor) -> LinearSide:
        return prepare_linear(hidden)

    def permute(self, prepared: LinearSide, permutation: Tensor) -> LinearSide:
        return LinearSide(prepared.centred[permutation], prepared.squared_norms[permutation],
                          prepared.self_cross)

    def subset(self, prepared: LinearSide, hidden: Tensor, rows: Tensor) -> LinearSide:
        return prepare_linear(hidden[rows])  # a half has its own means

    def values(self, a: LinearSide, b: LinearSide, wanted: set[str], options: MeasureOptions,
               ) -> dict[str, float]:
        biased, debiased = linear_cka_pair(a, b)
        return {"linear": biased, "debiased": debiased}


class RbfFamily(SideFamily):
    name = "rbf"

    def prepare(self, hidden: Tensor) -> GramSide:
        check_square(hidden.shape[0], "RBF CKA")
        return prepare_rbf(hidden)

    def permute(self, prepared: GramSide, permutation: Tensor) -> GramSide:
        return GramSide(prepared.kernel.index_select(0, permutation)
                        .index_select(1, permutation))

    def subset(self, prepared: GramSide, hidden: Tensor, rows: Tensor) -> GramSide:
        # the full sample's bandwidth; index_select copies faster than fancy indexing
        return GramSide(prepared.kernel.index_select(0, rows).index_select(1, rows))

    def values(self, a: GramSide, b: GramSide, wanted: set[str], options: MeasureOptions,
               ) -> dict[str, float]:
        return {name: gram_cka(a, b, debiased=name == "debiased-rbf")
                for name in ("rbf", "debiased-rbf") if name in wanted}


class NeuronFamily(SideFamily):
    name = "anc"

    def prepare(self, hidden: Tensor) -> Tensor:
        return standardised_columns(hidden)

    def subset(self, prepared: Tensor, hidden: Tensor, rows: Tensor) -> Tensor:
        return standardised_columns(hidden[rows])

    def values(self, a: Tensor, b: Tensor, wanted: set[str], options: MeasureOptions,
               ) -> dict[str, float]:
        return {"anc": anc_standardised(a, b)}


class CosineFamily(Family):
    """Retrieval, MEXA, margin. A half-sample reads the pair's cosine matrix, computed once."""

    name = "cosine"

    def prepare(self, hidden: Tensor) -> Tensor:
        return unit_rows(hidden)

    def values(self, a: Tensor, b: Tensor, wanted: set[str], options: MeasureOptions,
               ) -> dict[str, float]:
        return cosine_scores(*pair_blocks(a, b), a.shape[0], wanted, options.margin_k)

    def draws(self, x: MeasuredSide, ys: Mapping[str, MeasuredSide], layer: int,
              parts: Sequence[Tensor], wanted: set[str], options: MeasureOptions) -> Draws:
        check_square(x.rows, "intervals of the cosine measures")
        results: Draws = {}
        for name, y in ys.items():
            cosines = x.prepared(self, layer) @ y.prepared(self, layer).T
            results[name] = [subset_scores(cosines, rows, wanted, options.margin_k)
                             for rows in parts]
        return results


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    family: Family
    directions: bool = False  # also stored as NAME-forward / NAME-backward
    layer_matrix: bool = True  # part of --layer-matrix

    @property
    def keys(self) -> tuple[str, ...]:
        if self.directions:
            return self.name, f"{self.name}-forward", f"{self.name}-backward"
        return (self.name,)


# The measures, each named in the MEASURES registry (alignscope.analysis).
_LINEAR, _RBF, _COSINE = LinearFamily(), RbfFamily(), CosineFamily()
LINEAR = Measure("linear", "linear CKA", _LINEAR)
DEBIASED = Measure("debiased", "debiased linear CKA", _LINEAR)
RBF = Measure("rbf", "RBF CKA", _RBF)
DEBIASED_RBF = Measure("debiased-rbf", "debiased RBF CKA", _RBF)
ANC = Measure("anc", "average neuron-wise correlation", NeuronFamily())
RETRIEVAL = Measure("retrieval", "top-1 retrieval accuracy", _COSINE, directions=True,
                    layer_matrix=False)
MEXA = Measure("mexa", "MEXA alignment score", _COSINE)
MARGIN = Measure("margin", "margin-based top-1 retrieval", _COSINE, directions=True,
                 layer_matrix=False)
_DIRECTIONS = {"forward": "source to target", "backward": "target to source"}


def families(measures: Sequence[str]) -> dict[Family, set[str]]:
    """The families needed for `measures`, each with the names it must compute."""
    needed: dict[Family, set[str]] = {}
    for name in measures:
        needed.setdefault(MEASURES[name].family, set()).add(name)
    return needed


def describe(key: str) -> str:
    """What a result key measures, for axes and titles."""
    if key in MEASURES:
        return MEASURES[key].label
    name, _, direction = key.rpartition("-")
    return f"{MEASURES[name].label}, {_DIRECTIONS[direction]}"


def layer_aggregates(values: Sequence[float | None], layers: Sequence[Any],
                     ) -> dict[str, Any]:
    """The mean and the maximum over layers (as MEXA reports), and where the maximum is;
    undefined layers are skipped, all undefined gives None."""
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    if np.isnan(array).all():
        return {"mean": None, "max": None, "max_layer": None}
    best = int(np.nanargmax(array))
    return {"mean": float(np.nanmean(array)), "max": float(array[best]),
            "max_layer": layers[best]}


def aggregate(results: Mapping[str, Mapping[str, Mapping[str, Sequence[float | None]]]],
              layers: Sequence[Any]) -> dict[str, Any]:
    """`layer_aggregates` of every curve of `results[key][condition][language]`."""
    return {key: {condition: {lang: layer_aggregates(curve, layers)
                              for lang, curve in by_lang.items()}
                  for condition, by_lang in by_condition.items()}
            for key, by_condition in results.items()}
