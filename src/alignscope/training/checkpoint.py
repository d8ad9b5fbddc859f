"""Fine-tuned checkpoints: the encoder (save_pretrained), the head (safetensors), task.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from alignscope.errors import AlignscopeError
from alignscope.io import atomic_directory, atomic_write_json
from alignscope.models.encoder import Encoder, load_encoder
from alignscope.models.task_model import TaskModel
from alignscope.runs import CHECKPOINT_ENCODER, CHECKPOINT_HEAD, CHECKPOINT_TASK, checkpoint_dir
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
        raise AlignscopeError(f"{run_dir} is not a fine-tuned checkpoint (no {CHECKPOINT_TASK}); pass "
                              "the --out directory of `alignscope finetune`")
    meta = json.loads(task_file.read_text(encoding="utf-8"))
    task = get_task(meta["task"], **{**meta.get("task_options", {}), **(task_options or {})})
    encoder = load_encoder(directory / CHECKPOINT_ENCODER)
    head = task.build_head(encoder.hidden_size, meta["labels"], meta.get("dropout", 0.1))
    head.load_state_dict(load_file(str(directory / CHECKPOINT_HEAD)))
    model = TaskModel(encoder.model, head).to(device).eval()
    return model, encoder, task, meta["labels"], meta
