"""Forward hooks that read (or silence) what happens inside the blocks, for any architecture.

  layer_states     the residual stream at the embeddings' output (block 0's input) and at each
                   block's output, gathered at chosen token positions while the forward runs:
                   only [layers, positions, hidden] is kept, never a whole batch's states
  ffn_activations  the feed-forward activation module of every block, found in the module tree:
                   BERT `intermediate.intermediate_act_fn` (GELU), GPT-2 `mlp.act`,
                   Llama/Qwen2/Gemma `mlp.act_fn` (SiLU or GELU of the gate projection, before
                   it is multiplied by the up projection); its output is one value per neuron
  silenced         zero chosen neurons' activation outputs (a neuron then contributes nothing to
                   the block's output, as if its row of the down projection were zero)

An activation module is a leaf module named after an activation (GELU, SiLU, ReLU, ...,
`Activation`) in a block's feed-forward part (not under its attention). Exactly one per block
is expected; a block that computes its activation as a plain function, or holds several (a
mixture of experts), is refused with a message that says so.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from alignscope.errors import AlignscopeError
from alignscope.models.layers import find_blocks

Select = Callable[[torch.Tensor], torch.Tensor]  # [batch, tokens, d] -> [positions, d]
_ACTIVATION = re.compile(r"(activation|gelu|silu|swish|relu|mish|tanh|sigmoid|softplus)", re.I)
_NOT_ACTIVATION = re.compile(r"(softmax|dropout|norm)", re.I)


def at(rows: torch.Tensor, positions: torch.Tensor) -> Select:
    """Select the states of token `positions[i]` of row `rows[i]`."""
    return lambda hidden: hidden[rows, positions]


def where(mask: torch.Tensor) -> Select:
    """Select the states of the tokens where `mask` ([batch, tokens] bool) is true."""
    return lambda hidden: hidden[mask]


def _first_tensor(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, (tuple, list)) else value


@contextlib.contextmanager
def layer_states(model: nn.Module, select: Select) -> Iterator[list[torch.Tensor]]:
    """Inside the block, each forward of `model` appends its gathered states: the list holds,
    after one forward, [embeddings, block.0, ..., block.N-1] tensors of [positions, d]."""
    stack = find_blocks(model)
    captured: list[torch.Tensor] = []

    def before_first(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        hidden = args[0] if args else kwargs.get("hidden_states")
        if hidden is None:
            raise AlignscopeError(f"cannot read the input of {stack.module_name(0)}: it is not "
                                  "passed as its first argument or as hidden_states")
        captured.append(select(hidden).detach())

    def after(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        captured.append(select(_first_tensor(output)).detach())

    handles = [stack.blocks[0].register_forward_pre_hook(before_first, with_kwargs=True)]
    handles += [block.register_forward_hook(after) for block in stack.blocks]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _is_attention_path(block_prefix: str, name: str) -> bool:
    relative = name[len(block_prefix) + 1:].split(".")
    return any("attn" in part.lower() or "attention" in part.lower() for part in relative)


def ffn_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(module path, module) of the feed-forward activation of every block, in block order."""
    stack = find_blocks(model)
    found: list[tuple[str, nn.Module]] = []
    seen: dict[int, str] = {}
    for index, block in enumerate(stack.blocks):
        prefix = stack.module_name(index)
        candidates = [(f"{prefix}.{name}", module) for name, module in block.named_modules()
                      if name and not any(True for _ in module.children())
                      and _ACTIVATION.search(type(module).__name__)
                      and not _NOT_ACTIVATION.search(type(module).__name__)
                      and not _is_attention_path(prefix, f"{prefix}.{name}")]
        if len(candidates) != 1:
            listed = ", ".join(name for name, _ in candidates) or "none"
            raise AlignscopeError(
                f"block {prefix} of {type(model).__name__} has {len(candidates)} feed-forward "
                f"activation modules ({listed}); neuron statistics need exactly one per block",
                "use a dense model whose MLP calls an activation module (Llama, Qwen2, Gemma, "
                "GPT-2, BERT, XLM-R)")
        name, module = candidates[0]
        if id(module) in seen:
            raise AlignscopeError(f"{name} is the same module as {seen[id(module)]}: one "
                                  "activation instance serves several blocks, so its calls "
                                  "cannot be told apart")
        seen[id(module)] = name
        found.append(candidates[0])
    return found


@contextlib.contextmanager
def watched(modules: Sequence[nn.Module],
            read: Callable[[int, torch.Tensor], None]) -> Iterator[None]:
    """Call `read(layer, output)` with each module's output while the block runs."""

    def hook_for(layer: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            read(layer, output.detach())
        return hook

    handles = [module.register_forward_hook(hook_for(layer)) for layer, module in enumerate(modules)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def silenced(modules: Sequence[nn.Module], neurons: Sequence[torch.Tensor]) -> Iterator[None]:
    """Zero the activation outputs of `neurons[layer]` (index tensors) in each module."""

    def hook_for(index: torch.Tensor) -> Callable[..., torch.Tensor]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
            return output.index_fill(-1, index.to(output.device), 0.0)
        return hook

    handles = [module.register_forward_hook(hook_for(index))
               for module, index in zip(modules, neurons, strict=True) if index.numel()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
