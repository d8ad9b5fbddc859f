"""`alignscope finetune` and `alignscope evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from alignscope.cli._app import app, build_options, console, quiet_third_party, run_guarded
from alignscope.training.config import EvaluateConfig, FinetuneConfig

Opt = typer.Option


def _print_results(results: dict[str, Any]) -> None:
    metric = results["metric"]
    table = Table(title=f"{results['task']} — {metric}")
    for column in ("dataset", "language", "sentences", "words", metric):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for entry in results["evaluations"]:
        metrics = entry["metrics"]
        table.add_row(entry["dataset"], entry["language"], str(entry["sentences"]),
                      str(metrics.get("words", "")), f"{100 * metrics[metric]:.2f}")
    console().print(table)


@app.command()
def finetune(
    ctx: typer.Context,
    model: Annotated[str | None, Opt(help="Hub id or local directory of the encoder.")] = None,
    train: Annotated[str | None, Opt(help="Source dataset, e.g. ud:en_ewt.")] = None,
    eval: Annotated[str | None, Opt(help="Comma-separated targets, e.g. ud:fr_pud,ud:de_gsd.")] = None,
    out: Annotated[Path, Opt(help="Run directory (results.json, checkpoint/).")] = Path("runs/run"),
    task: Annotated[str | None, Opt(help="pos | parsing | ner.")] = None,
    dev: Annotated[str | None, Opt(help="Dev set for model selection (default: train's dev).")] = None,
    data_dir: Annotated[str | None, Opt(help="Data directory (default $ALIGNSCOPE_DATA).")] = None,
    random_init: Annotated[str | None, Opt(help="Layers to re-initialise: block.0-1, "
                                                "block.10,block.11, embeddings.")] = None,
    random_init_regex: Annotated[str | None, Opt(help="Parameter-name regex (authors' parity).")] = None,
    freeze: Annotated[str | None, Opt(help="Layers not trained, e.g. block.0-5.")] = None,
    revert: Annotated[str | None, Opt(help="Layer groups reset to pretrained after training "
                                           "and evaluated again, e.g. 'block.0-1;block.2-3'.")] = None,
    scope: Annotated[str | None, Opt(help="all | attention | ffn | layernorm (narrows "
                                          "random-init, freeze and revert).")] = None,
    init_scheme: Annotated[str | None, Opt(help="model | torch-default | normal:SIGMA.")] = None,
    seed: Annotated[int | None, Opt()] = None,
    epochs: Annotated[int | None, Opt()] = None,
    lr: Annotated[float | None, Opt(help="Peak learning rate (default 2e-5).")] = None,
    head_lr: Annotated[float | None, Opt(help="Task-head learning rate (default: --lr).")] = None,
    batch_size: Annotated[int | None, Opt()] = None,
    max_length: Annotated[int | None, Opt(help="Subword window length.")] = None,
    warmup_ratio: Annotated[float | None, Opt()] = None,
    weight_decay: Annotated[float | None, Opt()] = None,
    dropout: Annotated[float | None, Opt(help="Task-head dropout.")] = None,
    max_steps: Annotated[int | None, Opt(help="Stop after this many updates.")] = None,
    max_train_sentences: Annotated[int | None, Opt(help="Train on the first N sentences.")] = None,
    max_dev_sentences: Annotated[int | None, Opt(help="Select on the first N dev sentences.")] = None,
    max_eval_sentences: Annotated[int | None, Opt(help="Score the first N sentences of each "
                                                       "eval set.")] = None,
    device: Annotated[str | None, Opt(help="auto | cpu | cuda.")] = None,
    precision: Annotated[str | None, Opt(help="fp32 | bf16 | fp16 (CUDA) | auto (default: bf16 on "
                                                 "CUDA, fp32 elsewhere).")] = None,
    bf16: Annotated[bool | None, Opt("--bf16/--no-bf16", hidden=True,
                                     help="Deprecated: --precision auto / fp32.")] = None,
    dtype: Annotated[str | None, Opt(help="Weights: float32 | bfloat16 | float16.")] = None,
    device_map: Annotated[str | None, Opt(help="'auto': spread a model larger than one GPU "
                                               "over GPUs and CPU (needs alignscope[big]).")]
    = None,
    threads: Annotated[int | None, Opt(help="CPU threads (1 is fastest on a busy machine).")] = None,
    write_predictions: Annotated[bool, Opt(help="Write predictions in the input format.")] = False,
    deprel: Annotated[str | None, Opt(help="Parsing: score 'universal' or 'full' DEPRELs.")] = None,
    config: Annotated[Path | None, Opt(help="YAML file of options; flags override it.")] = None,
    overwrite: Annotated[bool, Opt(help="Replace an existing results.json in --out.")] = False,
    checkpoint_every: Annotated[int | None, Opt(help="Also checkpoint every N steps (always at "
                                                     "each epoch end).")] = None,
    resume: Annotated[bool | None, Opt("--resume", help="Continue the interrupted run in "
                                                        "--out from its last checkpoint.")]
    = None,
    quiet: Annotated[bool, Opt(help="No progress bars.")] = False,
) -> None:
    """Fine-tune on a source language, evaluate on its test set and zero-shot on targets."""

    def body() -> None:
        from alignscope.training.finetune import finetune as run_finetune

        quiet_third_party(quiet)
        extra = {"task_options": {"deprel": deprel}} if deprel is not None else {}
        settings = build_options(ctx, config, FinetuneConfig,
                                 {"scope": "reinit_scope", "init_scheme": "reinit_scheme"},
                                 **extra)
        results = run_finetune(settings, out, overwrite=overwrite, show_progress=not quiet)
        _print_results(results)
        console().print(f"results: {out / 'results.json'}")

    run_guarded(body)


@app.command()
def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, Opt(help="A `finetune` run directory.")],
    eval: Annotated[str, Opt(help="Comma-separated datasets, e.g. ud:fr_pud,ud:ja_gsd.")],
    out: Annotated[Path | None, Opt(help="Output JSON (default CHECKPOINT/evaluation.json).")] = None,
    data_dir: Annotated[str | None, Opt()] = None,
    batch_size: Annotated[int | None, Opt()] = None,
    device: Annotated[str | None, Opt(help="auto | cpu | cuda[:N].")] = None,
    precision: Annotated[str | None, Opt(help="fp32 | bf16 | fp16 (CUDA) | auto (default: bf16 on "
                                                 "CUDA, fp32 elsewhere).")] = None,
    bf16: Annotated[bool | None, Opt("--bf16/--no-bf16", hidden=True,
                                     help="Deprecated: --precision auto / fp32.")] = None,
    write_predictions: Annotated[bool, Opt()] = False,
    max_sentences: Annotated[int | None, Opt(help="Score the first N sentences of each set.")]
    = None,
    deprel: Annotated[str | None, Opt(help="Parsing: score 'universal' or 'full' DEPRELs "
                                           "(default: as trained).")] = None,
    quiet: Annotated[bool, Opt()] = False,
) -> None:
    """Evaluate a fine-tuned checkpoint zero-shot on any datasets."""

    def body() -> None:
        from alignscope.training.evaluate import evaluate as run_evaluate

        quiet_third_party(quiet)
        extra = {"task_options": {"deprel": deprel}} if deprel is not None else {}
        settings = build_options(ctx, None, EvaluateConfig, **extra)
        results = run_evaluate(settings, show_progress=not quiet)
        _print_results(results)

    run_guarded(body)
