"""Layer-by-layer comparison of two paired feature sets with every requested measure
(measures.py), for the pairs and for controls such as shuffled pairs.

A comparison runs on one or more samples of rows (all rows, or the authors' windows) and
averages the per-sample values.

Intervals come from disjoint half-samples (the delete-n/2 jackknife): each draw splits the
sentences at random into two disjoint halves (all rows of a sentence stay together, pairing
stays intact) and recomputes every measure on each half. The spread of half-sample values
estimates the full sample's sampling spread; the interval is the full-sample value plus the
centred percentiles of the half-sample values, so a measure whose level depends on n (biased
CKA, retrieval) keeps its own centre. Drawing with replacement would repeat sentences, which
inflates CKA and breaks the unbiased HSIC estimator (its intervals can miss the estimate).
The RBF bandwidth stays at its full-sample value. Each half of the source is prepared once and
measured against every target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from alignscope.analysis import MEASURES
from alignscope.analysis.measures import Family, MeasureOptions, families
from alignscope.errors import ConfigError

Samples = Sequence["LayerSides"]  # one LayerSides per sample (all rows, or each window)


class LayerSource(Protocol):
    """Where a feature set's layers come from, one at a time (features.Features reads them
    from disk)."""

    @property
    def num_layers(self) -> int: ...

    @property
    def rows(self) -> int: ...

    def layer(self, layer: int) -> Tensor: ...


class StackedLayers:
    """Layers already in memory, [layers, rows, dim]."""

    def __init__(self, hidden: Tensor) -> None:
        self.hidden = hidden

    @property
    def num_layers(self) -> int:
        return self.hidden.shape[0]

    @property
    def rows(self) -> int:
        return self.hidden.shape[1]

    def layer(self, layer: int) -> Tensor:
        return self.hidden[layer]


class LayerSides:
    """The layers of one feature set (a `LayerSource`, or a [layers, rows, dim] tensor),
    optionally only the rows `select` (a window), each loaded when first needed and prepared
    lazily for each family.

    A layer's features and prepared forms stay until `release(layer)`: a source compared with
    many targets is loaded and prepared once per layer, and a caller that releases each layer
    after measuring it holds one layer of each side at a time.
    """

    def __init__(self, source: LayerSource | Tensor, device: torch.device,
                 select: Tensor | None = None) -> None:
        self.source = StackedLayers(source) if isinstance(source, Tensor) else source
        self.device, self.select = device, select
        self._loaded: dict[int, Tensor] = {}
        self._prepared: dict[tuple[Family, int], Any] = {}

    @property
    def rows(self) -> int:
        return self.source.rows if self.select is None else self.select.numel()

    @property
    def num_layers(self) -> int:
        return self.source.num_layers

    @property
    def resident_layers(self) -> set[int]:
        """The layers this side holds (loaded or prepared)."""
        return set(self._loaded) | {layer for _, layer in self._prepared}

    def layer(self, layer: int) -> Tensor:
        """Layer `layer`'s [rows, dim] features on the device, loaded on first use."""
        if layer not in self._loaded:
            self._loaded[layer] = self._load(layer)
        return self._loaded[layer]

    def _load(self, layer: int) -> Tensor:
        hidden = self.source.layer(layer)
        return (hidden if self.select is None else hidden[self.select]).to(self.device)

    def prepared(self, family: Family, layer: int) -> Any:
        key = (family, layer)
        if key not in self._prepared:
            self._prepared[key] = self._prepare(family, layer)
        return self._prepared[key]

    def _prepare(self, family: Family, layer: int) -> Any:
        return family.prepare(self.layer(layer))

    def release(self, layer: int) -> None:
        """Drop the layer's features and prepared forms (loaded again if asked again)."""
        self._loaded.pop(layer, None)
        for key in [key for key in self._prepared if key[1] == layer]:
            del self._prepared[key]

    def permuted(self, permutation: Tensor) -> PermutedSides:
        return PermutedSides(self, permutation)


class PermutedSides(LayerSides):
    """The rows of `parent` in the order `permutation` (the shuffled control), prepared by
    permuting the parent's prepared layers instead of preparing the permuted features again;
    the parent must hold a layer until its permuted view has been measured."""

    def __init__(self, parent: LayerSides, permutation: Tensor) -> None:
        super().__init__(parent.source, parent.device, parent.select)
        self.parent, self.permutation = parent, permutation.to(parent.device)

    def _load(self, layer: int) -> Tensor:
        return self.parent.layer(layer)[self.permutation]

    def _prepare(self, family: Family, layer: int) -> Any:
        return family.permute(self.parent.prepared(family, layer), self.permutation)


@dataclass
class Comparison:
    """Per-layer values of each result key; optional intervals, window spread, layer matrix."""

    values: dict[str, list[float]] = field(default_factory=dict)
    intervals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    spread: dict[str, list[float]] = field(default_factory=dict)  # std over samples
    matrix: dict[str, list[list[float]]] = field(default_factory=dict)


def layer_values(x: LayerSides, y: LayerSides, layer_x: int, layer_y: int,
                 measures: Sequence[str], options: MeasureOptions) -> dict[str, float]:
    """Every requested measure between layer `layer_x` of x and `layer_y` of y."""
    if x.rows != y.rows:
        raise ConfigError(f"paired feature sets differ in rows: {x.rows} vs {y.rows}")
    values: dict[str, float] = {}
    for family, wanted in families(measures).items():
        values.update(family.values(x.prepared(family, layer_x), y.prepared(family, layer_y),
                                    wanted, options))
    return _keep(values, measures)


def _keep(values: Mapping[str, float], measures: Sequence[str]) -> dict[str, float]:
    """Only the keys of the requested measures (a family may compute its siblings too)."""
    return {key: values[key] for name in measures for key in MEASURES[name].keys}


def compare(xs: Samples, ys: Mapping[str, Samples], options: MeasureOptions,
            row_groups: Tensor | None = None, advance: Callable[[], None] | None = None,
            ) -> dict[str, Comparison]:
    """Measures per layer (layer i of x against layer i of each y), averaged over samples."""
    return compare_conditions(xs, ys, options, row_groups, advance)["parallel"]


def compare_conditions(xs: Samples, ys: Mapping[str, Samples], options: MeasureOptions,
                       row_groups: Tensor | None = None,
                       advance: Callable[[], None] | None = None,
                       controls: Mapping[str, Mapping[str, Samples]] | None = None,
                       ) -> dict[str, dict[str, Comparison]]:
    """Measures per layer for the pairs (`"parallel"`) and for each control condition.

    `xs[k]` and `ys[name][k]` hold sample k (all rows, or one of the authors' windows);
    `controls[condition][name]` holds the target sides of a control (e.g. `ys[name][0].permuted`,
    which reuses the pairs' prepared layers), measured without intervals or layer matrix.
    `row_groups` gives each row's sentence, for the intervals; `advance` is called after each
    (layer, y, condition), for a progress bar. Layers are visited in the outer loop and each
    side releases a layer once it is measured, so only one layer of each side (its features
    and n x n matrices) is alive at a time; a layer matrix then holds every layer of x and of
    one y at a time.
    """
    if options.half_samples and len(xs) > 1:
        raise ConfigError("--half-samples works on one sample of sentences, not on windows")
    if options.layer_matrix and len(xs) > 1:
        raise ConfigError("--layer-matrix works on one sample of sentences, not on windows")
    conditions = {"parallel": ys, **(controls or {})}
    layers = min(xs[0].num_layers, *(samples[0].num_layers for samples in ys.values()))
    # condition -> name -> sample -> layer -> {key: value}
    values = {condition: {name: [[] for _ in xs] for name in sides}
              for condition, sides in conditions.items()}
    parts = half_samples(row_groups if row_groups is not None else torch.arange(xs[0].rows),
                         options) if options.half_samples else []
    parts = [rows.to(xs[0].device) for rows in parts]
    results = {condition: {name: Comparison() for name in sides}
               for condition, sides in conditions.items()}
    for layer in range(layers):
        for name in ys:
            for condition, sides in conditions.items():
                for index, (x, y) in enumerate(zip(xs, sides[name], strict=True)):
                    values[condition][name][index].append(
                        layer_values(x, y, layer, layer, options.measures, options))
                if advance is not None:
                    advance()
            for condition, sides in conditions.items():  # controls derive from the pairs' sides
                if condition != "parallel" or not parts:  # the pairs' are kept for intervals
                    for y in sides[name]:
                        y.release(layer)
        if parts:  # each source half is prepared once, for every target
            estimates = {name: values["parallel"][name][0][-1] for name in ys}
            targets = {name: samples[0] for name, samples in ys.items()}
            for name, intervals in layer_intervals(xs[0], targets, layer, options, parts,
                                                   estimates).items():
                for key, interval in intervals.items():
                    results["parallel"][name].intervals.setdefault(key, []).append(interval)
                targets[name].release(layer)
        for x in xs:
            x.release(layer)
    for condition, by_name in values.items():
        for name, per_sample in by_name.items():
            for key in options.result_keys:
                table = np.array([[sample[layer][key] for layer in range(layers)]
                                  for sample in per_sample])
                results[condition][name].values[key] = table.mean(0).tolist()
                if len(per_sample) > 1:
                    results[condition][name].spread[key] = table.std(0).tolist()
    if options.layer_matrix:
        for name, samples in ys.items():
            results["parallel"][name].matrix = layer_matrix(xs[0], samples[0], options)
            for layer in range(samples[0].num_layers):
                samples[0].release(layer)
        for layer in range(xs[0].num_layers):
            xs[0].release(layer)
    return results


def layer_matrix(x: LayerSides, y: LayerSides, options: MeasureOptions) -> dict[str, list]:
    """Every layer of x against every layer of y, for the measures that have one."""
    measures = [m for m in options.measures if MEASURES[m].layer_matrix]
    grid = [[layer_values(x, y, i, j, measures, options) for j in range(y.num_layers)]
            for i in range(x.num_layers)]
    return {m: [[cell[m] for cell in row] for row in grid] for m in measures}


def half_samples(row_groups: Tensor, options: MeasureOptions) -> list[Tensor]:
    """The rows of each half: `options.half_samples` random splits of the sentences into two
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
    for _ in range(options.half_samples):
        order = torch.randperm(count, generator=generator)
        for part in (order[:half], order[half:2 * half]):
            parts.append(part if rows_of is None else torch.cat([rows_of[g] for g in part.tolist()]))
    return parts


def layer_intervals(x: LayerSides, ys: Mapping[str, LayerSides], layer: int,
                    options: MeasureOptions, parts: Sequence[Tensor],
                    estimates: Mapping[str, Mapping[str, float]],
                    ) -> dict[str, dict[str, tuple[float, float]]]:
    """Half-sample intervals around `estimates[name]` at one layer, for each target, from the
    row sets `parts` (`half_samples`: the same splits at every layer and for every pair)."""
    draws = {name: {key: [] for key in options.result_keys} for name in ys}
    for family, wanted in families(options.measures).items():
        for name, per_part in family.draws(x, ys, layer, parts, wanted, options).items():
            for part in per_part:
                for key, value in _keep(part, sorted(wanted)).items():
                    draws[name][key].append(value)
    return {name: _intervals(by_key, estimates[name], options.confidence)
            for name, by_key in draws.items()}


def _intervals(draws: Mapping[str, list[float]], estimate: Mapping[str, float],
               confidence: float) -> dict[str, tuple[float, float]]:
    alpha = (1 - confidence) / 2
    intervals = {}
    for key, values in draws.items():
        if np.isnan(values).all():  # a constant side: the measure is undefined
            intervals[key] = (float("nan"), float("nan"))
            continue
        deviations = np.asarray(values) - np.nanmean(values)
        low, high = np.nanquantile(deviations, [alpha, 1 - alpha])
        intervals[key] = (float(estimate[key] + low), float(estimate[key] + high))
    return intervals
