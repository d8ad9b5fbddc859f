"""Does cross-lingual similarity predict zero-shot transfer? Per layer, across target languages.

Reads a `similarity` result (similarity.json) and a `finetune` results file (results.json:
`metric`, `evaluations[*].language`, `evaluations[*].metrics[metric]`, `source_language`), and
computes Spearman and Pearson correlations (scipy) between the similarity of each target
language to the source at a layer and that language's zero-shot score.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scipy import stats

from alignscope.analysis.outputs import SCHEMA_VERSION, check_out, clean, now, write_run
from alignscope.config import Text, options
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError, UnknownNameError
from alignscope.report.figures import plot_correlation

MIN_LANGUAGES = 3


@options(frozen=True)
class CorrelationConfig:
    similarity: Text  # a similarity run folder or its similarity.json
    transfer: Text  # a finetune results.json or its run folder
    measure: Text | None = None  # default: the similarity run's first measure
    condition: Text = "parallel"
    dataset: Text | None = None  # keep only evaluations whose dataset contains this text


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise DataFormatError(path, None, f"{what} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(path, error.lineno, f"not valid JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise DataFormatError(path, None, f"{what} must be a JSON object")
    return data


def _file(path: str, name: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate / name if candidate.is_dir() else candidate


def transfer_scores(results: dict[str, Any], path: Path,
                    dataset: str | None) -> tuple[dict[str, float], str, str | None]:
    """(language -> zero-shot score, metric name, source language) from a results file."""
    metric = results.get("metric")
    evaluations = results.get("evaluations")
    if not isinstance(metric, str) or not isinstance(evaluations, list):
        raise DataFormatError(path, None, "not a finetune results file (needs `metric` and "
                              "`evaluations`)", "pass the results.json written by `finetune`")
    scores: dict[str, float] = {}
    chosen: dict[str, str] = {}
    for entry in evaluations:
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
                f"{name}; choose one with --dataset (e.g. --dataset _pud)")
        scores[language], chosen[language] = float(value), name
    return scores, metric, results.get("source_language")


def run_correlation(config: CorrelationConfig, out: str | Path | None = None,
                    overwrite: bool = False) -> dict[str, Any]:
    """Correlate; write correlation.json/.csv and the figure to `out` if given."""
    similarity_path = _file(config.similarity, "similarity.json")
    transfer_path = _file(config.transfer, "results.json")
    similarity = _read_json(similarity_path, "similarity result")
    if similarity.get("kind") != "similarity":
        raise DataFormatError(similarity_path, None, "not a similarity result",
                              "pass the folder written by `alignscope similarity`")
    transfer = _read_json(transfer_path, "transfer results")
    out_dir = check_out(out, overwrite)
    measure = config.measure or similarity["measures"][0]
    if measure not in similarity["results"]:
        raise UnknownNameError("measure in this similarity result", measure,
                               list(similarity["results"]))
    by_condition = similarity["results"][measure]
    if config.condition not in by_condition:
        raise UnknownNameError("condition", config.condition, list(by_condition))
    curves: dict[str, list[float | None]] = by_condition[config.condition]
    scores, metric, source = transfer_scores(transfer, transfer_path, config.dataset)
    source = source or similarity["source_language"]
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
    per_layer = [_correlate(curves, scores, languages, layer) for layer in similarity["layers"]]
    result = clean({
        "schema_version": SCHEMA_VERSION, "kind": "correlation", "config": asdict(config),
        "similarity": str(similarity_path), "transfer": str(transfer_path),
        "model": similarity["model"], "measure": measure, "condition": config.condition,
        "metric": metric, "source_language": source, "languages": languages,
        "skipped_languages": skipped, "scores": {lang: scores[lang] for lang in languages},
        "layers": similarity["layers"], "per_layer": per_layer, "created": now(),
    })
    if out_dir is not None:
        write_correlation(out_dir, result)
    return result


def default_out(config: CorrelationConfig) -> Path:
    """Inside the similarity run: <similarity run>/correlation-<transfer run>."""
    similarity_dir = _file(config.similarity, "similarity.json").parent
    return similarity_dir / f"correlation-{_file(config.transfer, 'results.json').parent.name}"


def _correlate(curves: dict[str, list[float | None]], scores: dict[str, float],
               languages: list[str], layer: int) -> dict[str, Any]:
    pairs = [(curves[lang][layer], scores[lang]) for lang in languages
             if curves[lang][layer] is not None]
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


def write_correlation(out: Path, result: dict[str, Any]) -> None:
    def draw(folder: Path) -> None:
        plot_correlation(folder, "correlation", result["layers"],
                         {name: [e[name] for e in result["per_layer"]]
                          for name in ("spearman", "pearson")},
                         title=f"{result['measure']} similarity vs zero-shot {result['metric']} "
                               f"({len(result['languages'])} languages)")

    write_run(out, result, "correlation.json", {"correlation.csv": correlation_table(result)},
              draw)
