"""`alignscope similarity`, `alignscope stability` and `alignscope correlate`."""

from __future__ import annotations

from typing import Any

from alignscope.analysis.settings import (
    CorrelationConfig,
    CorrelationOutput,
    SimilarityConfig,
    SimilarityOutput,
    StabilityConfig,
    StabilityOutput,
)
from alignscope.cli._app import app, command, console, quiet_third_party
from alignscope.config import Progress


def _print_curves(result: dict[str, Any], key: str, first: str, title: str) -> None:
    """Mean over languages per layer, for each condition."""
    from rich.table import Table

    table = Table(title=title)
    conditions = result["results"][key]
    table.add_column("layer", justify="right")
    for condition in conditions:
        table.add_column(f"{condition} (mean)" if condition == first else condition,
                         justify="right")
    for index, layer in enumerate(result["layers"]):
        cells = []
        for by_language in conditions.values():
            values = [v[index] for v in by_language.values() if v[index] is not None]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "-")
        table.add_row(layer, *cells)
    console().print(table)


@command(app, SimilarityConfig, SimilarityOutput, Progress)
def similarity(config: SimilarityConfig, output: SimilarityOutput, display: Progress) -> None:
    """Cross-lingual similarity of hidden representations, per layer, with controls."""
    from alignscope.analysis.similarity import run_similarity

    quiet_third_party(not display.progress)
    result = run_similarity(config, output.out, output.overwrite, show_progress=display.progress)
    key = result["measures"][0]
    _print_curves(result, key, "parallel", f"{key}: {result['source_language']} vs "
                  f"{len(result['target_languages'])} targets, {result['parallel']['sentences']}"
                  " sentences")
    console().print(f"written to {output.out}")


@command(app, StabilityConfig, StabilityOutput, Progress)
def stability(config: StabilityConfig, output: StabilityOutput, display: Progress) -> None:
    """How much fine-tuning changed each layer: the similarity of the two models on the same
    sentences."""
    from alignscope.analysis.stability import run_stability

    quiet_third_party(not display.progress)
    result = run_stability(config, output.out, output.overwrite, show_progress=display.progress)
    key = result["measures"][0]
    _print_curves(result, key, "paired", f"{key}: pretrained vs fine-tuned")
    console().print(f"written to {output.out}")


@command(app, CorrelationConfig, CorrelationOutput)
def correlate(config: CorrelationConfig, output: CorrelationOutput) -> None:
    """Spearman and Pearson correlations, per layer, between similarity and zero-shot scores."""
    from rich.table import Table

    from alignscope.analysis.correlation import default_out, run_correlation

    target = output.out or default_out(config)
    result = run_correlation(config, target, output.overwrite)
    table = Table(title=f"{result['measure']} vs {result['metric']} over "
                        f"{', '.join(result['languages'])}")
    for column in ("layer", "spearman", "p", "pearson", "p "):
        table.add_column(column, justify="right")
    for entry in result["per_layer"]:
        table.add_row(entry["layer"], *(
            "-" if entry[k] is None else f"{entry[k]:.3f}"
            for k in ("spearman", "spearman_p", "pearson", "pearson_p")))
    console().print(table)
    console().print(f"written to {target}")
