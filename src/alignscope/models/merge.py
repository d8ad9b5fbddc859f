"""Model surgery across fine-tuned runs of one base model: layer swapping and weight averaging.

  swap     each layer (`embeddings`, `block.K`) taken whole from the run that `assignment`
           names; every other tensor (final norm, pooler, rotary buffers...) from `base`
           (Bandarkar et al., ICLR 2025: the top and bottom blocks of a language expert into a
           task expert)
  average  every floating tensor the weighted mean of the runs' tensors (weights sum to 1);
           integer buffers must agree across runs

Both are pure functions of the state dicts (the models are not changed) and return, with the
merged state, where each layer came from. A swap that takes every tensor from one run returns
that run's tensors bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from alignscope.errors import ConfigError
from alignscope.layer_names import EMBEDDINGS, LayerSelection, block_name
from alignscope.models.layers import find_blocks, find_embeddings

OTHER = "other"  # tensors outside the embeddings and the blocks
State = dict[str, torch.Tensor]


def layer_of(model: nn.Module) -> dict[str, str]:
    """Tensor name (parameters and buffers, as in `state_dict`) -> `embeddings`, `block.K` or
    `other`."""
    stack = find_blocks(model)
    embeddings = tuple(f"{name}." for name in find_embeddings(model))
    owners = {}
    for name in model.state_dict():
        if name.startswith(stack.prefix + "."):
            owners[name] = block_name(int(name[len(stack.prefix) + 1:].split(".")[0]))
        elif name.startswith(embeddings):
            owners[name] = EMBEDDINGS
        else:
            owners[name] = OTHER
    return owners


def check_compatible(states: Sequence[Mapping[str, torch.Tensor]], labels: Sequence[str]) -> None:
    """Same tensor names, shapes and dtypes in every state."""
    first = states[0]
    for state, label in zip(states[1:], labels[1:], strict=True):
        missing = sorted(set(first) ^ set(state))
        if missing:
            raise ConfigError(f"{label} and {labels[0]} do not have the same tensors (e.g. "
                              f"{missing[0]}): they are not fine-tuned from one base model",
                              "merge runs of the same model")
        for name, tensor in first.items():
            other = state[name]
            if other.shape != tensor.shape or other.dtype != tensor.dtype:
                raise ConfigError(f"{name} is {tuple(other.shape)} {other.dtype} in {label} but "
                                  f"{tuple(tensor.shape)} {tensor.dtype} in {labels[0]}",
                                  "merge runs of the same model, loaded with the same dtype")


def swap(states: Sequence[Mapping[str, torch.Tensor]], owners: Mapping[str, str],
         assignment: Mapping[str, int], base: int) -> tuple[State, dict[str, int]]:
    """The merged state, and layer -> index of the run it came from (`other` included)."""
    provenance = {layer: assignment.get(layer, base) for layer in dict.fromkeys(owners.values())}
    merged = {name: states[provenance[owners[name]]][name].detach().clone()
              for name in states[0]}
    return merged, provenance


def average(states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float],
            labels: Sequence[str]) -> State:
    if len(weights) != len(states):
        raise ConfigError(f"{len(weights)} weights for {len(states)} runs", "give one per run")
    if any(w < 0 for w in weights) or not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
        raise ConfigError(f"averaging weights {list(weights)} must be non-negative and sum to 1")
    merged: State = {}
    for name, tensor in states[0].items():
        if tensor.is_floating_point():
            total = sum(w * state[name].double() for w, state in zip(weights, states, strict=True))
            merged[name] = total.to(tensor.dtype)  # type: ignore[union-attr]
            continue
        for state, label in zip(states[1:], labels[1:], strict=True):
            if not torch.equal(state[name], tensor):
                raise ConfigError(f"{name} ({tensor.dtype}) differs between {labels[0]} and "
                                  f"{label} and cannot be averaged")
        merged[name] = tensor.clone()
    return merged


def assignment_of(selections: Sequence[LayerSelection | None]) -> dict[str, int]:
    """layer -> run index from one selection per run; a layer named twice is an error."""
    assignment: dict[str, int] = {}
    for index, selection in enumerate(selections):
        for layer in selection.names if selection is not None else ():
            if layer in assignment:
                raise ConfigError(f"{layer} is taken from two runs ({assignment[layer] + 1} and "
                                  f"{index + 1})", "name each layer for one run only")
            assignment[layer] = index
    return assignment


def describe(provenance: Mapping[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """Provenance with run labels instead of indices (results files)."""
    return {layer: labels[index] if isinstance(index, int) else index
            for layer, index in provenance.items()}
