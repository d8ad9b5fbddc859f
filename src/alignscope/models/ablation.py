"""Post-hoc layer ablations beside RANDOM-INIT: freeze layers while fine-tuning, or revert them
to their pretrained weights after it.

Both act on the selection RANDOM-INIT uses (blocks and/or embeddings, narrowed by a scope)
and report the tensors they act on, so "which layers carry transfer" costs one fine-tune
(revert each group in turn and evaluate) instead of one per group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from alignscope.layer_names import LayerSelection
from alignscope.models.reinit import select_parameters


@dataclass(frozen=True)
class TensorRecord:
    """A tensor an ablation acted on; `change` is, for a revert, how far fine-tuning had moved
    it: ||tuned - pretrained|| / ||pretrained|| (0 for a tensor that did not move)."""

    name: str
    shape: tuple[int, ...]
    change: float | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "shape": list(self.shape)}
        if self.change is not None:
            record["change"] = self.change
        return record


def freeze(model: nn.Module, layers: LayerSelection, *, scope: str = "all") -> list[TensorRecord]:
    """Stop training the selected parameters (`requires_grad` off; build the optimizer from
    the parameters that still require gradients)."""
    selected = select_parameters(model, layers, scope=scope)
    for parameter in selected.values():
        parameter.requires_grad_(False)
    return [TensorRecord(name, tuple(tensor.shape)) for name, tensor in selected.items()]


@dataclass(frozen=True)
class RevertPoint:
    """CPU copies of the selected parameters, taken before fine-tuning."""

    layers: LayerSelection
    scope: str
    tensors: dict[str, torch.Tensor]


def revert_point(model: nn.Module, layers: LayerSelection, *, scope: str = "all") -> RevertPoint:
    """Remember the selected parameters as they are now (the pretrained weights)."""
    selected = select_parameters(model, layers, scope=scope)
    return RevertPoint(layers, scope, {name: tensor.detach().to("cpu", copy=True)
                                       for name, tensor in selected.items()})


def revert(model: nn.Module, point: RevertPoint) -> list[TensorRecord]:
    """Put the remembered parameters back, bit for bit; one record per tensor."""
    params = dict(model.named_parameters())
    records = []
    with torch.no_grad():
        for name, saved in point.tensors.items():
            tensor = params[name]
            pretrained = saved.to(tensor.device, tensor.dtype)
            moved = (tensor.double() - pretrained.double()).norm()
            scale = pretrained.double().norm()
            change = float(moved / scale) if scale > 0 else float(moved)
            tensor.copy_(pretrained)
            records.append(TensorRecord(name, tuple(tensor.shape), change))
    return records


@contextlib.contextmanager
def reverted(model: nn.Module, point: RevertPoint) -> Iterator[list[TensorRecord]]:
    """Revert inside the block and restore the fine-tuned values after it."""
    params = dict(model.named_parameters())
    tuned = {name: params[name].detach().clone() for name in point.tensors}
    try:
        yield revert(model, point)
    finally:
        with torch.no_grad():
            for name, value in tuned.items():
                params[name].copy_(value)
