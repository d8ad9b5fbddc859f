"""Evaluate a fine-tuned checkpoint on any datasets, zero-shot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignscope.config import build, check_input, check_out_folder, dump
from alignscope.data.registry import resolve
from alignscope.encoding.precision import check_precision
from alignscope.encoding.words import aligner_for
from alignscope.errors import ConfigError, deprecated
from alignscope.runs import PREDICTIONS_DIR, make_result, run_origin, write_result
from alignscope.runtime import device_description, pick_device
from alignscope.training.checkpoint import load_checkpoint
from alignscope.training.config import EvaluateConfig
from alignscope.training.predict import Predictor


def evaluate(checkpoint: str | Path | EvaluateConfig, eval_refs: list[str] | None = None, *,
             show_progress: bool = True, **fields: Any) -> dict[str, Any]:
    """Score `checkpoint` (a finetune run folder) on each reference; writes evaluation.json
    into `out` (default: the run folder).

    Pass an `EvaluateConfig`, or the checkpoint, the references and its other fields as
    keywords: `evaluate("runs/x", ["ud:fr_pud"], max_sentences=100, deprel="full")`.
    """
    if isinstance(checkpoint, EvaluateConfig):
        if eval_refs is not None or fields:
            raise ConfigError("pass either an EvaluateConfig or keyword fields, not both")
        settings = checkpoint
    else:
        settings = build(EvaluateConfig, {"checkpoint": checkpoint, "eval": eval_refs or [],
                                          **fields})
    precision = settings.precision
    checkpoint, eval_refs, data_dir = settings.checkpoint, settings.eval, settings.data_dir
    task_options, max_sentences = settings.task_arguments(), settings.max_sentences
    check_input(checkpoint, "finetune run", "--checkpoint", folder=True)
    out_dir = check_out_folder(settings.out or checkpoint)
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
    predictions_dir = out_dir / PREDICTIONS_DIR if settings.write_predictions else None
    if "source_language" in meta:
        source_language, random_init = meta["source_language"], meta.get("random_init", [])
    else:  # a checkpoint from before schema 2: its run's results.json says
        deprecated(f"the checkpoint {checkpoint}, written before results schema 2",
                   "a run fine-tuned by alignscope 0.2")
        source_language, random_init = run_origin(checkpoint)
    options = {**meta.get("task_options", {}), **task_options}
    results = make_result("evaluate", {
        "task": task.name, "metric": task.main_metric, "checkpoint": str(checkpoint),
        "precision": precision, "task_options": options,
        "evaluations": [predictor.evaluate(d, s, predictions_dir)
                        for d, s in zip(datasets, sentences, strict=True)],
        "device": device_description(torch_device),
    }, source_language=source_language, random_init=random_init,
        model={"name": str(meta.get("model")), "source": str(encoder.source)},
        config=dump(settings))
    write_result(out_dir, results)
    return results
