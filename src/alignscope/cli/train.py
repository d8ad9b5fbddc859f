"""`alignscope finetune` and `alignscope evaluate`."""

from __future__ import annotations

from typing import Any

from alignscope.cli._app import app, command, console, quiet_third_party
from alignscope.config import Progress
from alignscope.training.config import EvaluateConfig, FinetuneConfig, FinetuneOutput


def _print_results(results: dict[str, Any]) -> None:
    from rich.table import Table

    metric = results["metric"]
    table = Table(title=f"{results['task']} — {metric}")
    for column in ("dataset", "language", "sentences", "words", metric):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for entry in results["evaluations"]:
        metrics = entry["metrics"]
        table.add_row(entry["dataset"], entry["language"], str(entry["sentences"]),
                      str(metrics.get("words", "")), f"{100 * metrics[metric]:.2f}")
    console().print(table)


@command(app, FinetuneConfig, FinetuneOutput, Progress)
def finetune(config: FinetuneConfig, output: FinetuneOutput, display: Progress) -> None:
    """Fine-tune on a source language, evaluate on its test set and zero-shot on targets."""
    from alignscope.training.finetune import finetune as run_finetune

    quiet_third_party(not display.progress)
    results = run_finetune(config, output.out, overwrite=output.overwrite,
                           show_progress=display.progress)
    _print_results(results)
    console().print(f"results: {output.out / 'results.json'}")


@command(app, EvaluateConfig, Progress)
def evaluate(config: EvaluateConfig, display: Progress) -> None:
    """Evaluate a fine-tuned run zero-shot on any datasets: OUT/evaluation.json."""
    from alignscope.training.evaluate import evaluate as run_evaluate

    quiet_third_party(not display.progress)
    results = run_evaluate(config, show_progress=display.progress)
    _print_results(results)
    console().print(f"results: {(config.out or config.checkpoint) / 'evaluation.json'}")
