"""Encoder stability: how much fine-tuning changed each layer's representations.

`run_stability` extracts the same sentences with the pretrained and the fine-tuned encoder and
measures, per language and layer, the similarity between the two (1 = unchanged up to what the
measure ignores). The shuffled control pairs each sentence with another one's representation.
With two or more languages it also measures cross-lingual similarity (first language against
each other one) in both models, for the pre- versus post-fine-tuning comparison.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from alignscope.analysis.adjust import standardised
from alignscope.analysis.compare import LayerSides, compare_conditions
from alignscope.analysis.controls import derangement
from alignscope.analysis.features import FeatureExtractor, Features
from alignscope.analysis.measures import MeasureOptions, aggregate
from alignscope.analysis.outputs import aggregate_table, check_out, clean, condition_tables, write_run
from alignscope.analysis.settings import StabilityConfig
from alignscope.analysis.similarity import compare_languages
from alignscope.data.parallel import load_parallel
from alignscope.errors import AlignscopeError
from alignscope.layer_names import layer_names
from alignscope.progress import counter
from alignscope.runs import make_result, run_origin
from alignscope.runtime import device_description, pick_device


def _check_paired(before: Features, after: Features) -> None:
    same_rows = torch.equal(before.row_sentence, after.row_sentence) \
        and torch.equal(before.row_word, after.row_word)
    if not same_rows:
        raise AlignscopeError(
            f"{before.language}: the two models give different rows ({before.rows} vs "
            f"{after.rows}); they must share a tokenizer and length limit")
    if before.num_layers != after.num_layers:
        raise AlignscopeError(f"the models have {before.num_layers} and {after.num_layers} "
                              "hidden states; stability compares the same architecture")


def run_stability(config: StabilityConfig, out: str | Path | None = None,
                  overwrite: bool = False, show_progress: bool = False) -> dict[str, Any]:
    """Run the analysis; write it to `out` (a folder) if given, figures included. Returns the
    result."""
    started = time.perf_counter()
    config.check()
    out_dir = check_out(out, overwrite)
    config.check_models(config.pretrained, config.finetuned)
    options = config.measure_options()
    corpus = load_parallel(config.parallel, config.languages, config.data_dir)
    corpus = corpus.subsample(config.max_sentences, config.seed)
    options.check_sentences(len(corpus))
    device = pick_device(config.device)
    extraction = config.extraction_options()
    features: dict[str, dict[str, Features]] = {}
    stats: dict[str, Any] = {}
    sources: dict[str, dict[str, Any]] = {}
    for role, name, revision, gguf_file in (
            ("pretrained", config.pretrained, config.revision, config.gguf_file),
            ("finetuned", config.finetuned, None, None)):
        encoder = config.load(name, revision, gguf_file)
        extractor = FeatureExtractor(encoder, extraction, device, show_progress=show_progress)
        features[role] = extractor.extract_all(corpus, config.languages, f"{role} ")
        if config.standardise:
            features[role] = standardised(features[role])
        stats[role], sources[role] = extractor.stats.as_dict(), encoder.record
        del encoder, extractor  # one model in memory at a time
    before, after = features["pretrained"], features["finetuned"]
    for lang in config.languages:
        _check_paired(before[lang], after[lang])
    conditions: dict[str, dict[str, Any]] = {"paired": {}}
    if "shuffled" in config.controls:
        conditions["shuffled"] = {}
    steps = before[config.languages[0]].num_layers * len(config.languages) * len(conditions)
    with counter(show_progress, "measuring stability", steps) as advance:
        for lang in config.languages:
            y = LayerSides(after[lang], device)
            controls = {"shuffled": {lang: [y.permuted(derangement(y.rows, config.seed))]}} \
                if "shuffled" in conditions else {}
            measured = compare_conditions([LayerSides(before[lang], device)], {lang: [y]},
                                          options, before[lang].row_sentence, advance, controls)
            conditions["paired"][lang] = measured["parallel"][lang]
            if controls:
                conditions["shuffled"][lang] = measured["shuffled"][lang]
    light = dataclasses.replace(options, half_samples=0, layer_matrix=False)
    cross_lingual = {}
    if len(config.languages) > 1 and config.pooling != "word":
        source, *targets = config.languages
        cross_lingual = {role: compare_languages(features[role], source, tuple(targets), light,
                                                 None, device, None, show_progress,
                                                 f"{role} cross-lingual")["parallel"]
                         for role in ("pretrained", "finetuned")}
    result = _result(config, sources, len(corpus), before, conditions, cross_lingual, options)
    result.update(extraction=stats, device=device_description(device),
                  seconds=round(time.perf_counter() - started, 3))
    result = clean(result)
    if out_dir is not None:
        write_run(out_dir, result, stability_tables(result))
    return result


def _result(config: StabilityConfig, sources: dict[str, dict[str, Any]], sentences: int,
            before: dict[str, Features], conditions: dict[str, dict[str, Any]],
            cross_lingual: dict[str, dict[str, Any]], options: MeasureOptions) -> dict[str, Any]:
    keys = options.result_keys
    paired = conditions["paired"]
    source_language, random_init = run_origin(config.finetuned)
    layers = layer_names(next(iter(before.values())).num_layers - 1)
    results = {key: {condition: {lang: c.values[key] for lang, c in by_lang.items()}
                     for condition, by_lang in conditions.items()} for key in keys}
    return make_result("stability", {
        "pretrained": {**sources["pretrained"], "name": config.pretrained},
        "languages": list(config.languages), "sentences": sentences,
        "rows": {lang: f.rows for lang, f in before.items()},
        "layers": layers,
        "measures": list(keys), "conditions": list(conditions),
        "results": results,
        "layer_aggregates": aggregate(results, layers),
        "intervals": {key: {lang: c.intervals[key] for lang, c in paired.items()}
                      for key in keys if options.half_samples},
        "layer_matrix": {m: {lang: c.matrix[m] for lang, c in paired.items()}
                         for m in next(iter(paired.values())).matrix},
        "cross_lingual": {
            "source_language": config.languages[0],
            "results": {key: {role: {lang: c.values[key] for lang, c in by_lang.items()}
                              for role, by_lang in cross_lingual.items()}
                        for key in keys} if cross_lingual else {},
        },
    }, source_language=source_language, random_init=random_init,
        model={**sources["finetuned"], "name": config.finetuned},
        config=dataclasses.asdict(config))


def stability_tables(result: dict[str, Any]) -> dict[str, str]:
    layers = result["layers"]
    tables = condition_tables(layers, result["results"], "paired")
    tables["layer-aggregates.csv"] = aggregate_table(result["layer_aggregates"])
    tables.update(condition_tables(layers, result["cross_lingual"]["results"], None,
                                   "cross-lingual-"))
    return tables
