"""Cross-lingual similarity: how alike a model's representations of translations are, per layer.

`run_similarity` extracts pooled features of the source and every target language, compares
source against each target at every layer with the chosen measures, runs the controls, and
writes similarity.json, one CSV per measure (layer x language) and the figures (figures.py).

Presets:
  default  the corrected procedure: mean pooling without special tokens, all sentences (or a
           seeded sample), linear / debiased / RBF CKA and retrieval on the whole sample.
  authors  the released script (measure_similarity.py) exactly: RBF CKA with per-side median
           bandwidth, all hidden states, the first 800 sentences, inputs of at most 200 tokens,
           its pooling (one [CLS] and one [SEP] inside the mean), and its sampling: CKA on
           n//4 sentences at offsets 0, 1, 2, 3 (its loop slices [i : i + n//4]), averaged.
Options the user sets explicitly override the preset's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import torch

from alignscope.analysis.adjust import centred, length_partialled, standardised
from alignscope.analysis.compare import Comparison, LayerSides, Samples, compare_conditions
from alignscope.analysis.controls import derangement, random_init_copy
from alignscope.analysis.features import FeatureExtractor, Features
from alignscope.analysis.measures import MeasureOptions, aggregate
from alignscope.analysis.outputs import aggregate_table, check_out, clean, condition_tables, write_run
from alignscope.analysis.settings import SimilarityConfig
from alignscope.data.parallel import ParallelCorpus, load_parallel
from alignscope.errors import ConfigError
from alignscope.layer_names import layer_names
from alignscope.progress import counter
from alignscope.runs import make_result, run_origin
from alignscope.runtime import device_description, pick_device


def authors_windows(count: int) -> list[tuple[int, int]]:
    """The script's samples: batch = n//4, n//batch windows starting at 0, 1, 2, ..."""
    size = count // 4
    if size < 4:
        raise ConfigError(f"the authors' windows hold n//4 = {size} sentences", "use at least 16")
    return [(start, start + size) for start in range(count // size)]


def sample_corpus(corpus: ParallelCorpus, config: SimilarityConfig,
                  ) -> tuple[ParallelCorpus, list[tuple[int, int]] | None]:
    """The sentences to extract and, for the authors' preset, the windows over them."""
    if config.preset == "authors":
        requested = min(config.max_sentences or len(corpus), len(corpus))
        windows = authors_windows(requested)
        return corpus.head(windows[-1][1]), windows
    return corpus.subsample(config.max_sentences, config.seed), None


def adjusted(features: dict[str, Features], config: SimilarityConfig) -> dict[str, Features]:
    """The features with the requested adjustments (see adjust.py) applied."""
    if config.centre:
        features = centred(features)
    if config.partial_length:
        features = length_partialled(features)
    if config.standardise:
        features = standardised(features)
    return features


def _samples(features: Features, windows: list[tuple[int, int]] | None,
             device: torch.device, permutation: torch.Tensor | None = None) -> list[LayerSides]:
    """The sides of `features` (rows reordered by `permutation`, if given): all rows, or each
    of the authors' windows; each side loads a layer when it is first measured."""
    if windows is None:
        return [LayerSides(features, device, permutation)]
    order = torch.arange(features.rows) if permutation is None else permutation
    return [LayerSides(features, device, order[start:stop]) for start, stop in windows]


def _shuffled(features: Features, pairs: Samples, windows: list[tuple[int, int]] | None,
              device: torch.device, permutation: torch.Tensor) -> Samples:
    """The shuffled control's target sides: the pairs' prepared layers permuted, or, for the
    authors' windows (whose permuted rows lie outside the window), sides of their own."""
    if windows is None:
        return [pairs[0].permuted(permutation)]
    return _samples(features, windows, device, permutation)


def compare_languages(features: dict[str, Features], source: str, targets: tuple[str, ...],
                      options: MeasureOptions, windows: list[tuple[int, int]] | None,
                      device: torch.device, shuffle: torch.Tensor | None = None,
                      show_progress: bool = False, label: str = "",
                      ) -> dict[str, dict[str, Comparison]]:
    """Source against each target (condition "parallel") and, with `shuffle`, against the
    targets with their rows reordered by it (condition "shuffled")."""
    pairs = {lang: _samples(features[lang], windows, device) for lang in targets}
    controls = {} if shuffle is None else {"shuffled": {
        lang: _shuffled(features[lang], pairs[lang], windows, device, shuffle)
        for lang in targets}}
    steps = features[source].num_layers * len(targets) * (1 + len(controls))
    with counter(show_progress, f"measuring {label}".strip(), steps) as advance:
        return compare_conditions(_samples(features[source], windows, device), pairs, options,
                                  features[source].row_sentence, advance, controls)


def run_similarity(config: SimilarityConfig, out: str | Path | None = None,
                   overwrite: bool = False, show_progress: bool = False) -> dict[str, Any]:
    """Run the analysis; write it to `out` (a folder) if given, figures included. Returns the
    result."""
    started = time.perf_counter()
    config = config.resolved()
    out_dir = check_out(out, overwrite)
    config.check_models(config.model)
    options = config.measure_options()
    languages = (config.source, *config.targets)
    corpus = load_parallel(config.parallel, languages, config.data_dir)
    corpus, windows = sample_corpus(corpus, config)
    options.check_sentences(len(corpus) if windows is None else windows[0][1] - windows[0][0])
    device = pick_device(config.device)
    encoder = config.load(config.model, config.revision, config.gguf_file)
    extractor = FeatureExtractor(encoder, config.extraction_options(), device,
                                 show_progress=show_progress)
    features = adjusted(extractor.extract_all(corpus, languages), config)
    shuffle = derangement(len(corpus), config.seed) if "shuffled" in config.controls else None
    conditions: dict[str, dict[str, Any]] = dict(compare_languages(
        features, config.source, config.targets, options, windows, device, shuffle,
        show_progress, "pairs" if shuffle is None else "pairs and shuffled pairs"))
    extraction = {"model": extractor.stats.as_dict()}
    if "random-init" in config.controls:
        random_encoder, identity = random_init_copy(encoder, config.seed, extractor.identity)
        random_extractor = FeatureExtractor(random_encoder, config.extraction_options(), device,
                                            identity, show_progress)
        random_features = adjusted(random_extractor.extract_all(corpus, languages, "random-init "),
                                   config)
        conditions["random-init"] = compare_languages(
            random_features, config.source, config.targets,
            dataclasses.replace(options, half_samples=0, layer_matrix=False), windows, device,
            None, show_progress, "random-init")["parallel"]
        extraction["random-init"] = random_extractor.stats.as_dict()
    result = _result(config, encoder.record, corpus, features, conditions, windows, options)
    result.update(dimensions=dimension_table(features), extraction=extraction,
                  device=device_description(device), seconds=round(time.perf_counter() - started, 3))
    result = clean(result)
    if out_dir is not None:
        write_run(out_dir, result, similarity_tables(result))
    return result


def _result(config: SimilarityConfig, model: dict[str, Any], corpus: ParallelCorpus,
            features: dict[str, Features], conditions: dict[str, dict[str, Any]],
            windows: list[tuple[int, int]] | None, options: MeasureOptions) -> dict[str, Any]:
    layers = layer_names(features[config.source].num_layers - 1)
    keys = options.result_keys

    def gather(field: str) -> dict[str, Any]:
        return {key: {condition: {lang: getattr(comparison, field)[key]
                                  for lang, comparison in by_lang.items()
                                  if key in getattr(comparison, field)}
                      for condition, by_lang in conditions.items()}
                for key in keys}

    parallel = conditions["parallel"]
    results = gather("values")
    return make_result("similarity", {
        "preset": config.preset, "target_languages": list(config.targets),
        # The sentence ids in the order measured, so the sample can be checked independently.
        "parallel": {"spec": config.parallel, "sentences": len(corpus), "ids": list(corpus.ids),
                     "ids_sha256": hashlib.sha256("\n".join(corpus.ids).encode()).hexdigest(),
                     "files": corpus.sources},
        "windows": windows, "layers": layers, "measures": list(keys),
        "conditions": list(conditions),
        "results": results,
        "intervals": {k: v["parallel"] for k, v in gather("intervals").items() if v["parallel"]},
        "window_spread": {k: v for k, v in gather("spread").items() if v["parallel"]},
        "layer_aggregates": aggregate(results, layers),
        "layer_matrix": {m: {lang: c.matrix[m] for lang, c in parallel.items()}
                         for m in next(iter(parallel.values())).matrix},
        "truncated": {lang: f.truncated for lang, f in features.items()},
    }, source_language=config.source, random_init=run_origin(config.model)[1],
        model={**model, "name": config.model}, config=dataclasses.asdict(config))


def dimension_table(features: dict[str, Features]) -> dict[str, dict[str, list[Any]]]:
    """statistic -> language -> one value per layer (the unadjusted features')."""
    return {key: {lang: [layer[key] for layer in f.dimensions] for lang, f in features.items()}
            for key in next(iter(features.values())).dimensions[0]}


def similarity_tables(result: dict[str, Any]) -> dict[str, str]:
    tables = condition_tables(result["layers"], result["results"], "parallel")
    tables["layer-aggregates.csv"] = aggregate_table(result["layer_aggregates"])
    return tables
