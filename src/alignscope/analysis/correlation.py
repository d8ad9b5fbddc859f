"""Does cross-lingual similarity predict zero-shot transfer? Per layer, across target languages.

Reads a `similarity` result and a `finetune` (or `evaluate`) result with `runs.load_run`, and
computes Spearman and Pearson correlations (scipy) between the similarity of each target
language to the source at a layer and that language's zero-shot score.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scipy import stats

from alignscope.analysis.outputs import check_out, clean, write_run
from alignscope.analysis.settings import CorrelationConfig
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError, UnknownNameError
from alignscope.runs import TRANSFER_KINDS, Run, load_run, make_result

MIN_LANGUAGES = 3


def transfer_scores(transfer: Run, dataset: str | None) -> dict[str, float]:
    """Language -> zero-shot score from a finetune or evaluate result."""
    metric, path = transfer.data["metric"], transfer.path
    scores: dict[str, float] = {}
    chosen: dict[str, str] = {}
    for entry in transfer.data["evaluations"]:
        name = str(entry.get("dataset", ""))
        if dataset is not None and dataset not in name:
            continue
        language, value = entry.get("language"), entry.get("metrics", {}).get(metric)
        if language is None or value is None:
            raise DataFormatError(path, None, f"evaluation {name or '?'} lacks `language` or "
                                  f"`metrics.{metric}`")
        if language in scores:
            raise AlignscopeError(
                f"{path}: language {language} is evaluated on both {chosen[language]} and "
                f"{name}", "choose one with --dataset (e.g. --dataset _pud)")
        scores[language], chosen[language] = float(value), name
    return scores


def run_correlation(config: CorrelationConfig, out: str | Path | None = None,
                    overwrite: bool = False) -> dict[str, Any]:
    """Correlate; write correlation.json, correlation.csv and the figure to `out` if given."""
    similarity_run = load_run(config.similarity, "similarity")
    transfer = load_run(config.transfer, TRANSFER_KINDS)
    similarity = similarity_run.data
    out_dir = check_out(out, overwrite)
    measure = config.measure or similarity["measures"][0]
    if measure not in similarity["results"]:
        raise UnknownNameError("measure in this similarity result", measure,
                               list(similarity["results"]))
    by_condition = similarity["results"][measure]
    if config.condition not in by_condition:
        raise UnknownNameError("condition", config.condition, list(by_condition))
    curves: dict[str, list[float | None]] = by_condition[config.condition]
    scores = transfer_scores(transfer, config.dataset)
    source = transfer.source_language or similarity["source_language"]
    if source != similarity["source_language"]:
        raise ConfigError(f"the transfer run's source language is {source} but the similarity "
                          f"run's is {similarity['source_language']}")
    languages = [lang for lang in curves if lang in scores and lang != source]
    skipped = sorted(set(curves) - set(languages))
    if len(languages) < MIN_LANGUAGES:
        raise AlignscopeError(
            f"only {len(languages)} target language(s) have both a similarity and a zero-shot "
            f"score ({', '.join(languages) or 'none'}); a correlation needs at least "
            f"{MIN_LANGUAGES}. Similarity has: {', '.join(curves)}; transfer has: "
            f"{', '.join(sorted(scores))}")
    layers = similarity["layers"]
    per_layer = [_correlate(curves, scores, languages, index, name)
                 for index, name in enumerate(layers)]
    metric = transfer.data["metric"]
    result = clean(make_result("correlation", {
        "similarity": str(similarity_run.path), "transfer": str(transfer.path),
        "measure": measure, "condition": config.condition,
        "metric": metric, "languages": languages,
        "skipped_languages": skipped, "scores": {lang: scores[lang] for lang in languages},
        "layers": layers, "per_layer": per_layer,
    }, source_language=source, random_init=transfer.random_init, model=similarity["model"],
        config=asdict(config)))
    if out_dir is not None:
        write_run(out_dir, result, {"correlation.csv": correlation_table(result)})
    return result


def default_out(config: CorrelationConfig) -> Path:
    """Beside the similarity run, never inside it (its folder is replaced as a whole):
    <similarity run>-vs-<transfer run>."""
    similarity = load_run(config.similarity, "similarity").folder
    transfer = load_run(config.transfer, TRANSFER_KINDS).folder
    return similarity.parent / f"{similarity.name}-vs-{transfer.name}"


def _correlate(curves: dict[str, list[float | None]], scores: dict[str, float],
               languages: list[str], index: int, layer: str) -> dict[str, Any]:
    pairs = [(curves[lang][index], scores[lang]) for lang in languages
             if curves[lang][index] is not None]
    entry: dict[str, Any] = {"layer": layer, "languages": len(pairs)}
    if len(pairs) < MIN_LANGUAGES:
        return entry | {"spearman": None, "spearman_p": None, "pearson": None, "pearson_p": None}
    x, y = zip(*pairs, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant input gives NaN, written as null
        spearman = stats.spearmanr(x, y)
        pearson = stats.pearsonr(x, y)
    return entry | {"spearman": float(spearman.statistic), "spearman_p": float(spearman.pvalue),
                    "pearson": float(pearson.statistic), "pearson_p": float(pearson.pvalue)}


def correlation_table(result: dict[str, Any]) -> str:
    lines = ["layer,languages,spearman,spearman_p,pearson,pearson_p"]
    for entry in result["per_layer"]:
        cells = [entry.get(k) for k in ("spearman", "spearman_p", "pearson", "pearson_p")]
        lines.append(",".join([str(entry["layer"]), str(entry["languages"]),
                               *("" if c is None else f"{c:.6g}" for c in cells)]))
    return "\n".join(lines) + "\n"
