"""`alignscope merge`: one model built from two or more fine-tuned runs of one base model, saved
as a finetune-style run that `evaluate` and every analysis take.

    swap     `layers` gives, per run (in the order of `runs`), the layers taken from it
             (`block.0-1,block.22-23`, or empty for none); every layer not named, every tensor
             outside the layers (final norm, pooler) and the task head come from run `base`
    average  every tensor (task head included) is the `weights`-weighted mean of the runs'

The runs must share the architecture, the tensors' shapes and dtypes, the task and its labels.
Output: `OUT/checkpoint/` exactly as a finetune run's (encoder/, head.safetensors, task.json,
whose `merge` entry says where each layer came from) and `OUT/merge.json` (kind `merge`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from alignscope.config import check_out_folder, dump
from alignscope.errors import ConfigError
from alignscope.layer_names import parse_layers
from alignscope.models.merge import assignment_of, average, check_compatible, describe, layer_of, swap
from alignscope.runs import CHECKPOINT_DIR, make_result, result_file, write_result
from alignscope.training.checkpoint import load_checkpoint, save_checkpoint
from alignscope.training.config import MergeConfig

HEAD = "head"


def merge_runs(config: MergeConfig, out: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Build, save and describe the merged run; returns merge.json's content."""
    started = time.perf_counter()
    config.check()
    out_dir = check_out_folder(out)
    if result_file(out_dir, "merge").exists() and not overwrite:
        raise ConfigError(f"{result_file(out_dir, 'merge')} already exists; choose another "
                          "--out or pass --overwrite")
    labels = config.run_labels
    cpu = torch.device("cpu")
    loaded = [load_checkpoint(run, cpu) for run in config.runs]
    models = [model for model, *_ in loaded]
    first_task, first_labels = loaded[0][2], loaded[0][3]
    for (_, _, task, task_labels, _), label in zip(loaded[1:], labels[1:], strict=True):
        if task.name != first_task.name or task_labels != first_labels:
            raise ConfigError(f"{label} was fine-tuned for another task or label set than "
                              f"{labels[0]}", "merge runs of one task with the same labels")
    encoders = [model.encoder.state_dict() for model in models]
    heads = [model.head.state_dict() for model in models]
    check_compatible(encoders, labels)
    check_compatible(heads, labels)
    owners = layer_of(models[0].encoder)
    depth = len({layer for layer in owners.values() if layer.startswith("block.")})
    if config.method == "swap":
        selections = [parse_layers(spec, depth) if spec.strip() else None
                      for spec in config.layers]
        encoder_state, provenance = swap(encoders, owners, assignment_of(selections), config.base)
        head_state = {name: tensor.clone() for name, tensor in heads[config.base].items()}
        layers: dict[str, Any] = {**describe(provenance, labels), HEAD: labels[config.base]}
    else:
        weights = config.weights or [1 / len(models)] * len(models)
        encoder_state = average(encoders, weights, labels)
        head_state = average(heads, weights, labels)
        share = dict(zip(labels, weights, strict=True))
        layers = {layer: share for layer in [*dict.fromkeys(owners.values()), HEAD]}
    target, encoder, task, task_labels, meta = loaded[config.base if config.method == "swap"
                                                     else 0]
    target.encoder.load_state_dict(encoder_state)
    target.head.load_state_dict(head_state)
    sources = [m.get("source_language") for *_, m in loaded]
    provenance_meta = {"method": config.method, "runs": [str(p) for p in config.runs],
                       "labels": labels, "layers": layers}
    save_checkpoint(out_dir / CHECKPOINT_DIR, target, encoder, task, task_labels,
                    {**{k: v for k, v in meta.items() if k not in ("task", "labels")},
                     "merge": provenance_meta})
    result = make_result("merge", {
        **provenance_meta, "task": task.name,
        "source_languages": dict(zip(labels, sources, strict=True)),
        "random_init_of_runs": {label: m.get("random_init", []) for label, (*_, m)
                                in zip(labels, loaded, strict=True)},
        "seconds": round(time.perf_counter() - started, 3),
    }, source_language=sources[0] if len(set(sources)) == 1 else None,
        random_init=list(meta.get("random_init", [])),
        model={"name": str(meta.get("model")), "source": str(encoder.source)},
        config=dump(config))
    write_result(out_dir, result)  # last: its presence marks a whole run
    return result

