"""Layer-by-layer comparison of two paired feature sets with every similarity measure.

Measures (the names used in options, results and files):
  linear        linear CKA, feature space
  debiased      linear CKA with the unbiased HSIC estimator (shares linear's cross product)
  rbf           RBF CKA, median bandwidth per side
  debiased-rbf  RBF CKA with the unbiased HSIC estimator
  retrieval     cosine top-1 retrieval accuracy, mean of both directions (also stored per
                direction as retrieval-forward / retrieval-backward)

A comparison runs on one or more samples of rows (all rows, or the authors' windows) and
averages the per-sample values.

Intervals come from disjoint half-samples (the delete-n/2 jackknife): each draw splits the
sentences at random into two disjoint halves (all rows of a sentence stay together, pairing
stays intact) and recomputes every measure on each half. The spread of half-sample values
estimates the full sample's sampling spread; the interval is the full-sample value plus the
centred percentiles of the half-sample values, so a measure whose level depends on n (biased
CKA, retrieval) keeps its own centre. Drawing with replacement would repeat sentences, which
inflates CKA and breaks the unbiased HSIC estimator (its intervals can miss the estimate).
The RBF bandwidth stays at its full-sample value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from alignscope.analysis.cka import (
    GramSide,
    LinearSide,
    gram_cka,
    linear_cka_pair,
    prepare_linear,
    prepare_rbf,
)
from alignscope.analysis.retrieval import cosine_matrix, retrieval_accuracy, subset_retrieval
from alignscope.errors import ConfigError

MEASURES = ("linear", "debiased", "rbf", "debiased-rbf", "retrieval")
RETRIEVAL_DIRECTIONS = ("retrieval-forward", "retrieval-backward")
MEASURE_LABELS = {"linear": "linear CKA", "debiased": "debiased linear CKA", "rbf": "RBF CKA",
                  "debiased-rbf": "debiased RBF CKA", "retrieval": "top-1 retrieval accuracy",
                  "retrieval-forward": "top-1 retrieval, source to target",
                  "retrieval-backward": "top-1 retrieval, target to source"}
MATRIX_MEASURES = ("linear", "debiased", "rbf", "debiased-rbf")
MAX_SQUARE_ROWS = 12_000  # an n x n float64 matrix beyond this passes 1 GiB


@dataclass(frozen=True)
class MeasureOptions:
    measures: tuple[str, ...] = ("linear", "debiased", "rbf", "retrieval")
    bootstrap: int = 0  # resamples; 0 = no intervals
    confidence: float = 0.95
    layer_matrix: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown or not self.measures:
            raise ConfigError(f"unknown measure {unknown[0] if unknown else '(none)'!r}; "
                              f"use some of {', '.join(MEASURES)}")
        if self.bootstrap < 0:
            raise ConfigError("--bootstrap must be 0 (off) or a number of resamples")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"--confidence must lie in (0, 1), got {self.confidence}")

    @property
    def result_keys(self) -> tuple[str, ...]:
        keys = [m for m in self.measures if m != "retrieval"]
        if "retrieval" in self.measures:
            keys += ["retrieval", *RETRIEVAL_DIRECTIONS]
        return tuple(keys)


class LayerSides:
    """Every layer of one feature set ([layers, rows, dim]) prepared lazily for each measure.

    Prepared layers stay cached until `release`: a source compared with many targets is
    prepared once per layer.
    """

    def __init__(self, hidden: Tensor, device: torch.device) -> None:
        self.hidden = hidden.to(device)
        self._linear: dict[int, LinearSide] = {}
        self._rbf: dict[int, GramSide] = {}

    @property
    def rows(self) -> int:
        return self.hidden.shape[1]

    @property
    def num_layers(self) -> int:
        return self.hidden.shape[0]

    def linear(self, layer: int) -> LinearSide:
        if layer not in self._linear:
            self._linear[layer] = prepare_linear(self.hidden[layer])
        return self._linear[layer]

    def rbf(self, layer: int) -> GramSide:
        if layer not in self._rbf:
            _check_square(self.rows, "RBF CKA")
            self._rbf[layer] = prepare_rbf(self.hidden[layer])
        return self._rbf[layer]

    def release(self, layer: int) -> None:
        self._linear.pop(layer, None)
        self._rbf.pop(layer, None)


@dataclass
class Comparison:
    """Per-layer values of each result key; optional intervals, window spread, layer matrix."""

    values: dict[str, list[float]] = field(default_factory=dict)
    intervals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    spread: dict[str, list[float]] = field(default_factory=dict)  # std over samples
    matrix: dict[str, list[list[float]]] = field(default_factory=dict)


def _check_square(rows: int, what: str) -> None:
    if rows > MAX_SQUARE_ROWS:
        raise ConfigError(f"{what} needs an n x n matrix and {rows} rows would take "
                          f"{rows * rows * 8 / 2**30:.1f} GiB; lower --max-sentences or use the "
                          "linear measures")


def layer_values(x: LayerSides, y: LayerSides, layer_x: int, layer_y: int,
                 measures: Sequence[str]) -> dict[str, float]:
    """Every requested measure between layer `layer_x` of x and `layer_y` of y."""
    if x.rows != y.rows:
        raise ConfigError(f"paired feature sets differ in rows: {x.rows} vs {y.rows}")
    values: dict[str, float] = {}
    if "linear" in measures or "debiased" in measures:
        biased, debiased = linear_cka_pair(x.linear(layer_x), y.linear(layer_y))
        values.update({"linear": biased, "debiased": debiased})
    if "rbf" in measures:
        values["rbf"] = gram_cka(x.rbf(layer_x), y.rbf(layer_y))
    if "debiased-rbf" in measures:
        values["debiased-rbf"] = gram_cka(x.rbf(layer_x), y.rbf(layer_y), debiased=True)
    if "retrieval" in measures:
        forward, backward = retrieval_accuracy(x.hidden[layer_x], y.hidden[layer_y])
        values.update({"retrieval": (forward + backward) / 2, "retrieval-forward": forward,
                       "retrieval-backward": backward})
    return {key: values[key] for key in values if key in measures
            or (key in RETRIEVAL_DIRECTIONS and "retrieval" in measures)}


def compare(xs: Sequence[LayerSides], ys: Mapping[str, Sequence[LayerSides]],
            options: MeasureOptions, row_groups: Tensor | None = None,
            advance: Callable[[], None] | None = None) -> dict[str, Comparison]:
    """Measures per layer (layer i of x against layer i of each y), averaged over samples.

    `xs[k]` and `ys[name][k]` hold sample k (all rows, or one of the authors' windows);
    `row_groups` gives each row's sentence, for the intervals; `advance` is called after each
    (layer, y), for a progress bar. Layers are visited in the outer loop so that only one
    layer's n x n matrices are alive at a time; a layer matrix then holds every layer of x and
    of one y at a time.
    """
    if options.bootstrap and len(xs) > 1:
        raise ConfigError("--bootstrap works on one sample of sentences, not on windows")
    if options.layer_matrix and len(xs) > 1:
        raise ConfigError("--layer-matrix works on one sample of sentences, not on windows")
    layers = min(xs[0].num_layers, *(samples[0].num_layers for samples in ys.values()))
    values = {name: [[] for _ in xs] for name in ys}  # name -> sample -> layer -> {key: value}
    parts = half_samples(row_groups if row_groups is not None else torch.arange(xs[0].rows),
                         options) if options.bootstrap else []
    results = {name: Comparison() for name in ys}
    for layer in range(layers):
        for name, samples in ys.items():
            for index, (x, y) in enumerate(zip(xs, samples, strict=True)):
                values[name][index].append(layer_values(x, y, layer, layer, options.measures))
            if options.bootstrap:
                for key, interval in bootstrap_interval(xs[0], samples[0], layer, options,
                                                        parts, values[name][0][-1]).items():
                    results[name].intervals.setdefault(key, []).append(interval)
            for y in samples:
                y.release(layer)
            if advance is not None:
                advance()
        for x in xs:
            x.release(layer)
    for name, per_sample in values.items():
        for key in options.result_keys:
            table = np.array([[sample[layer][key] for layer in range(layers)]
                              for sample in per_sample])
            results[name].values[key] = table.mean(0).tolist()
            if len(per_sample) > 1:
                results[name].spread[key] = table.std(0).tolist()
        if options.layer_matrix:
            results[name].matrix = layer_matrix(xs[0], ys[name][0], options)
            for layer in range(ys[name][0].num_layers):
                ys[name][0].release(layer)
    for layer in range(xs[0].num_layers):
        xs[0].release(layer)
    return results


def layer_matrix(x: LayerSides, y: LayerSides, options: MeasureOptions) -> dict[str, list]:
    """Every layer of x against every layer of y, for the CKA measures."""
    measures = [m for m in options.measures if m in MATRIX_MEASURES]
    grid = [[layer_values(x, y, i, j, measures) for j in range(y.num_layers)]
            for i in range(x.num_layers)]
    return {m: [[cell[m] for cell in row] for row in grid] for m in measures}


def half_samples(row_groups: Tensor, options: MeasureOptions) -> list[Tensor]:
    """The rows of each half: `options.bootstrap` random splits of the sentences into two
    disjoint halves, drawn with `options.seed`; all rows of a sentence stay together."""
    count = int(row_groups.max()) + 1
    if count < 8:
        raise ConfigError(f"intervals need at least 8 sentences, got {count}")
    rows_of = None
    if row_groups.numel() != count:  # several rows per sentence (word pooling)
        order = torch.argsort(row_groups, stable=True)
        rows_of = order.split(torch.bincount(row_groups, minlength=count).tolist())
    generator = torch.Generator().manual_seed(options.seed)
    half, parts = count // 2, []
    for _ in range(options.bootstrap):
        order = torch.randperm(count, generator=generator)
        for part in (order[:half], order[half:2 * half]):
            parts.append(part if rows_of is None else torch.cat([rows_of[g] for g in part.tolist()]))
    return parts


def bootstrap_interval(x: LayerSides, y: LayerSides, layer: int, options: MeasureOptions,
                       parts: Sequence[Tensor], estimate: Mapping[str, float],
                       ) -> dict[str, tuple[float, float]]:
    """Half-sample intervals around `estimate` at one layer, from the row sets `parts`
    (`half_samples`: the same splits at every layer and for every pair)."""
    device = x.hidden.device
    cosines = None
    if "retrieval" in options.measures:
        _check_square(x.rows, "retrieval intervals")
        cosines = cosine_matrix(x.hidden[layer], y.hidden[layer])
    draws: dict[str, list[float]] = {key: [] for key in options.result_keys}
    for rows in parts:
        for key, value in _resample_values(x, y, layer, rows.to(device), options.measures,
                                           cosines).items():
            draws[key].append(value)
    alpha = (1 - options.confidence) / 2
    intervals = {}
    for key, values in draws.items():
        if np.isnan(values).all():  # a constant side: CKA undefined
            intervals[key] = (float("nan"), float("nan"))
            continue
        deviations = np.asarray(values) - np.nanmean(values)
        low, high = np.nanquantile(deviations, [alpha, 1 - alpha])
        intervals[key] = (float(estimate[key] + low), float(estimate[key] + high))
    return intervals


def _resample_values(x: LayerSides, y: LayerSides, layer: int, rows: Tensor,
                     measures: Sequence[str], cosines: Tensor | None) -> dict[str, float]:
    values: dict[str, float] = {}
    if "linear" in measures or "debiased" in measures:
        biased, debiased = linear_cka_pair(prepare_linear(x.hidden[layer][rows]),
                                           prepare_linear(y.hidden[layer][rows]))
        values.update({"linear": biased, "debiased": debiased})
    for name, debiased_rbf in (("rbf", False), ("debiased-rbf", True)):
        if name in measures:
            kx = GramSide(x.rbf(layer).kernel[rows][:, rows])
            ky = GramSide(y.rbf(layer).kernel[rows][:, rows])
            values[name] = gram_cka(kx, ky, debiased_rbf)
    if cosines is not None:
        forward, backward = subset_retrieval(cosines, rows)
        values.update({"retrieval": (forward + backward) / 2, "retrieval-forward": forward,
                       "retrieval-backward": backward})
    return {key: value for key, value in values.items() if key in measures
            or (key in RETRIEVAL_DIRECTIONS and "retrieval" in measures)}
