"""Evaluate a fine-tuned checkpoint on any datasets, zero-shot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignscope.config import build, check_input, check_out_file, dump
from alignscope.data.registry import resolve
from alignscope.encoding.precision import check_precision, resolve_precision
from alignscope.encoding.words import aligner_for
from alignscope.runs import PREDICTIONS_DIR, make_result, result_file, run_origin, write_result
from alignscope.runtime import device_description, pick_device
from alignscope.training.checkpoint import load_checkpoint
from alignscope.training.config import EvaluateConfig
from alignscope.training.predict import Predictor


def evaluate(checkpoint: str | Path | EvaluateConfig, eval_refs: list[str] | None = None, *,
             out: str | Path | None = None, data_dir: str | None = None, batch_size: int = 64,
             device: str = "auto", precision: str | None = None, bf16: bool | None = None,
             write_predictions: bool = False,
             max_sentences: int | None = None, task_options: dict[str, Any] | None = None,
             show_progress: bool = True) -> dict[str, Any]:
    """Score `checkpoint` on each reference; writes `out` (default: evaluation.json in the run).

    Pass an `EvaluateConfig`, or its fields as arguments. `max_sentences` scores the first N
    sentences of each set; `task_options` override the checkpoint's scoring options
    (`{"deprel": "full"}`). `precision`: fp32 | bf16 | fp16 | auto (default: bf16 on CUDA,
    else fp32); `bf16` is its deprecated alias.
    """
    settings = checkpoint if isinstance(checkpoint, EvaluateConfig) else build(EvaluateConfig, {
        "checkpoint": checkpoint, "eval": eval_refs or [], "out": out, "data_dir": data_dir,
        "batch_size": batch_size, "device": device, "precision": precision, "bf16": bf16,
        "write_predictions": write_predictions, "max_sentences": max_sentences,
        "task_options": task_options or {}})
    precision = resolve_precision(settings.precision, default="auto", bf16=settings.bf16)
    checkpoint, eval_refs, data_dir = settings.checkpoint, settings.eval, settings.data_dir
    task_options, max_sentences = settings.task_options, settings.max_sentences
    check_input(checkpoint, "finetune run", "--checkpoint", folder=True)
    out = check_out_file(settings.out or result_file(checkpoint, "evaluate"), suffixes=(".json",))
    datasets = [resolve(ref, "eval", data_dir) for ref in eval_refs]
    torch_device = pick_device(settings.device)
    check_precision(precision, torch_device)
    model, encoder, task, labels, meta = load_checkpoint(checkpoint, torch_device, task_options)
    sentences = [task.read(dataset, limit=max_sentences) for dataset in datasets]
    for read in sentences:
        task.check_labels(read, labels)
    aligner = aligner_for(encoder, meta.get("max_length"))
    predictor = Predictor(model, task, labels, aligner, torch_device, settings.batch_size,
                          precision, show_progress)
    predictions_dir = out.parent / PREDICTIONS_DIR if settings.write_predictions else None
    if "source_language" in meta:
        source_language, random_init = meta["source_language"], meta.get("random_init", [])
    else:  # a checkpoint from before schema 2: its run's results.json says
        source_language, random_init = run_origin(checkpoint)
    options = {**meta.get("task_options", {}), **(task_options or {})}
    results = make_result("evaluate", {
        "task": task.name, "metric": task.main_metric, "checkpoint": str(checkpoint),
        "precision": precision, "task_options": options,
        "evaluations": [predictor.evaluate(d, s, predictions_dir)
                        for d, s in zip(datasets, sentences, strict=True)],
        "device": device_description(torch_device),
    }, source_language=source_language, random_init=random_init,
        model={"name": str(meta.get("model")), "source": str(encoder.source)},
        config=dump(settings))
    write_result(out.parent, results, out.name)
    return results
