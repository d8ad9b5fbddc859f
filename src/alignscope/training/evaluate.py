"""Evaluate a fine-tuned checkpoint on any datasets, zero-shot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alignscope.data.registry import resolve
from alignscope.encoding.precision import check_precision, resolve_precision
from alignscope.encoding.words import aligner_for
from alignscope.errors import ConfigError
from alignscope.io import atomic_write_json
from alignscope.training.checkpoint import load_checkpoint
from alignscope.training.predict import Predictor
from alignscope.training.runtime import device_description, pick_device, versions


def evaluate(checkpoint: str | Path, eval_refs: list[str], *, out: str | Path | None = None,
             data_dir: str | None = None, batch_size: int = 64, device: str = "auto",
             precision: str | None = None, bf16: bool | None = None,
             write_predictions: bool = False,
             max_sentences: int | None = None, task_options: dict[str, Any] | None = None,
             show_progress: bool = True) -> dict[str, Any]:
    """Score `checkpoint` on each reference; writes `out` (default CHECKPOINT/evaluation.json).

    `max_sentences` scores the first N sentences of each set; `task_options` override the
    checkpoint's scoring options (`{"deprel": "full"}`). `precision`: fp32 | bf16 | fp16 |
    auto (default: bf16 on CUDA, else fp32); `bf16` is its deprecated alias.
    """
    precision = resolve_precision(precision, default="auto", bf16=bf16)
    if not eval_refs:
        raise ConfigError("give at least one dataset to evaluate (--eval ud:fr_pud,...)")
    datasets = [resolve(ref, "eval", data_dir) for ref in eval_refs]
    torch_device = pick_device(device)
    check_precision(precision, torch_device)
    model, encoder, task, labels, meta = load_checkpoint(checkpoint, torch_device, task_options)
    sentences = [task.read(dataset, limit=max_sentences) for dataset in datasets]
    for read in sentences:
        task.check_labels(read, labels)
    aligner = aligner_for(encoder, meta.get("max_length"))
    predictor = Predictor(model, task, labels, aligner, torch_device, batch_size, precision,
                          show_progress)
    out = Path(out) if out else Path(checkpoint) / "evaluation.json"
    predictions_dir = out.parent / "predictions" if write_predictions else None
    results = {
        "schema_version": 1, "task": task.name, "metric": task.main_metric,
        "checkpoint": str(checkpoint), "model": meta.get("model"), "precision": precision,
        "task_options": {**meta.get("task_options", {}), **(task_options or {})},
        "evaluations": [predictor.evaluate(d, s, predictions_dir)
                        for d, s in zip(datasets, sentences, strict=True)],
        "versions": versions(), "device": device_description(torch_device),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(out, results)
    return results
