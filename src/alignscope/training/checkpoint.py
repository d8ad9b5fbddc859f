"""Fine-tuned checkpoints: the encoder (save_pretrained), the head (safetensors), task.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from alignscope.errors import AlignscopeError, DataFormatError
from alignscope.io import atomic_directory, atomic_write_json
from alignscope.models.encoder import Encoder, load_encoder
from alignscope.models.task_model import TaskModel
from alignscope.runs import (
    CHECKPOINT_DIR,
    CHECKPOINT_ENCODER,
    CHECKPOINT_HEAD,
    CHECKPOINT_TASK,
    checkpoint_dir,
    no_model_here,
)
from alignscope.tasks import Labels, Task, get_task


def save_checkpoint(directory: Path, model: TaskModel, encoder: Encoder, task: Task,
                    labels: Labels, meta: dict[str, Any]) -> None:
    """Write the whole checkpoint to a temporary directory, then swap it in."""
    with atomic_directory(directory) as tmp:
        model.encoder.save_pretrained(tmp / CHECKPOINT_ENCODER, safe_serialization=True)
        encoder.tokenizer.save_pretrained(tmp / CHECKPOINT_ENCODER)
        head_state = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}
        save_file(head_state, str(tmp / CHECKPOINT_HEAD))
        atomic_write_json(tmp / CHECKPOINT_TASK, {"task": task.name, "labels": labels, **meta})


def load_checkpoint(run_dir: str | Path, device: torch.device,
                    task_options: dict[str, Any] | None = None,
                    ) -> tuple[TaskModel, Encoder, Task, Labels, dict[str, Any]]:
    """The model, encoder, task, labels and metadata of a run; `task_options` override the
    scoring options it was trained with (e.g. parsing's `deprel`)."""
    run_dir = Path(run_dir)
    directory = checkpoint_dir(run_dir)
    task_file = directory / CHECKPOINT_TASK
    if not task_file.is_file():
        raise no_model_here(run_dir) or AlignscopeError(
            f"{run_dir} is not a fine-tuned checkpoint (no {CHECKPOINT_DIR}/{CHECKPOINT_TASK})",
            "pass the --out folder of `alignscope finetune`")
    meta = _read_meta(task_file)
    if not (directory / CHECKPOINT_HEAD).is_file():
        raise AlignscopeError(f"{directory}: the task head ({CHECKPOINT_HEAD}) is missing",
                              "re-run `alignscope finetune`, or copy the whole run folder")
    task = get_task(meta["task"], **{**meta.get("task_options", {}), **(task_options or {})})
    encoder = load_encoder(directory / CHECKPOINT_ENCODER)
    head = task.build_head(encoder.hidden_size, meta["labels"], meta.get("dropout", 0.1))
    try:
        head.load_state_dict(load_file(str(directory / CHECKPOINT_HEAD)))
    except (SafetensorError, RuntimeError) as error:  # damaged, or another model's head
        raise DataFormatError(directory / CHECKPOINT_HEAD, None, f"unusable task head: "
                              f"{str(error).splitlines()[0]}",
                              "re-run `alignscope finetune`, or copy the whole run folder") from None
    model = TaskModel(encoder.model, head).to(device).eval()
    return model, encoder, task, meta["labels"], meta


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("task"), str) \
            or not isinstance(meta.get("labels"), dict):
        raise DataFormatError(path, None, "damaged: not the JSON object (task, labels) that "
                              "`finetune` writes", "re-run `alignscope finetune`, or restore it")
    return meta
