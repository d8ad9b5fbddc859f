"""One layer vocabulary for the whole toolkit, named after the architecture.

    embeddings   the embedding module; in analyses its output, `hidden_states[0]`
    block.K      transformer block K (0-based); in analyses its OUTPUT, `hidden_states[K + 1]`

RANDOM-INIT (`--random-init block.0-1`) re-draws blocks 0 and 1, and the similarity at
`block.1` is measured at the output of the last block it re-drew: the same names mean the same
modules everywhere (CLI input, JSON keys, CSV headers, figure axes, tables).

Input specs accept `embeddings`, `block.K`, `block.A-B` and lists of them (`block.0,block.3`);
bare integers and ranges (`0-1`, `10,11`) are an alias for blocks (the pre-2 syntax).

The block stack is found from the module tree, without a table of architectures: the
nn.ModuleList holding the most parameters whose children are all of one class (BERT/XLM-R
`encoder.layer`, DistilBERT `transformer.layer`, GPT-2 `h`, Llama `model.layers`, also under a
multimodal wrapper's text model). A model without one is refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alignscope.errors import AlignscopeError, ConfigError

EMBEDDINGS = "embeddings"
BLOCK = "block"
_BLOCK_NAME = re.compile(r"^block\.([0-9]+)$")
_BLOCK_ITEM = re.compile(r"^(?:block\.)?([0-9]+)(?:\s*-\s*(?:block\.)?([0-9]+))?$")
if TYPE_CHECKING:  # torch is imported where modules are searched: reading results needs none
    from torch import nn

SPEC_HELP = ("name layers as 'embeddings', 'block.K' or 'block.A-B', comma-separated, e.g. "
             "'block.0-1' or 'embeddings,block.11' (bare numbers such as '0-1' mean blocks)")


def block_name(index: int) -> str:
    return f"{BLOCK}.{index}"


def layer_names(num_blocks: int) -> list[str]:
    """The analysed layers of a model with `num_blocks` blocks, in hidden-state order."""
    return [EMBEDDINGS, *(block_name(index) for index in range(num_blocks))]


def hidden_state_index(name: str) -> int:
    """Position of layer `name`'s output in `output_hidden_states`: embeddings 0, block.K K+1."""
    if name == EMBEDDINGS:
        return 0
    match = _BLOCK_NAME.match(name)
    if match is None:
        raise ConfigError(f"unknown layer {name!r}: {SPEC_HELP}")
    return int(match[1]) + 1


def layer_of_hidden_state(index: int) -> str:
    """The inverse of `hidden_state_index`."""
    if index < 0:
        raise ValueError(f"hidden-state index {index} is negative")
    return EMBEDDINGS if index == 0 else block_name(index - 1)


@dataclass(frozen=True)
class LayerSelection:
    """Blocks (0-based, sorted, unique) and whether the embeddings are included."""

    blocks: tuple[int, ...] = ()
    embeddings: bool = False

    @property
    def names(self) -> list[str]:
        """The selected layers in model order, e.g. ['embeddings', 'block.0', 'block.1']."""
        return [EMBEDDINGS] * self.embeddings + [block_name(index) for index in self.blocks]

    def __bool__(self) -> bool:
        return bool(self.blocks) or self.embeddings

    def __str__(self) -> str:
        """Compact canonical spec: `embeddings,block.0-1,block.5`."""
        runs: list[list[int]] = []
        for index in self.blocks:
            if runs and runs[-1][1] == index - 1:
                runs[-1][1] = index
            else:
                runs.append([index, index])
        parts = [block_name(a) if a == b else f"{block_name(a)}-{b}" for a, b in runs]
        return ",".join([EMBEDDINGS] * self.embeddings + parts)


def parse_layers(spec: str | Sequence[str], num_blocks: int | None = None) -> LayerSelection:
    """Parse a layer spec (or a list of names); with `num_blocks`, check that each block exists."""
    items = [item.strip() for item in (spec.split(",") if isinstance(spec, str) else spec)]
    if not items or not all(items):
        raise ConfigError(f"bad layer spec {spec!r}: {SPEC_HELP}")
    blocks: set[int] = set()
    embeddings = False
    for item in items:
        if item.lower() == EMBEDDINGS:
            embeddings = True
            continue
        match = _BLOCK_ITEM.match(item)
        if match is None:
            raise ConfigError(f"bad item {item!r} in layer spec {spec!r}: {SPEC_HELP}")
        start = int(match[1])
        end = start if match[2] is None else int(match[2])
        if start > end:
            raise ConfigError(f"reversed range {item!r} in layer spec {spec!r}; write it as "
                              f"{block_name(end)}-{start}")
        blocks.update(range(start, end + 1))
    selection = LayerSelection(tuple(sorted(blocks)), embeddings)
    if num_blocks is not None:
        check_blocks(selection, num_blocks)
    return selection


def check_blocks(selection: LayerSelection, num_blocks: int) -> None:
    missing = [block_name(index) for index in selection.blocks if index >= num_blocks]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} does not exist: the model has {num_blocks} blocks, "
            f"block.0-{num_blocks - 1} (or 'embeddings')")


@dataclass(frozen=True)
class BlockStack:
    """The model's transformer blocks and their module path (`encoder.layer`)."""

    prefix: str
    blocks: nn.ModuleList

    def __len__(self) -> int:
        return len(self.blocks)

    def module_name(self, index: int) -> str:
        """Module path of block `index`, e.g. `encoder.layer.3`."""
        return f"{self.prefix}.{index}" if self.prefix else str(index)


def _parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def find_blocks(model: nn.Module) -> BlockStack:
    """The block stack: the ModuleList of same-class children holding the most parameters
    (ties: the first in module order). Nested wrappers and decoder layouts need no table."""
    from torch import nn

    best: tuple[int, str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if len({type(child) for child in module}) != 1:
            continue
        size = _parameter_count(module)
        if size > 0 and (best is None or size > best[0]):
            best = (size, name, module)
    if best is None:
        raise AlignscopeError(
            f"cannot find the transformer blocks of {type(model).__name__}: no nn.ModuleList of "
            "identical blocks with parameters; alignscope dissects models that keep their "
            "blocks in one (encoder.layer, model.layers, h ...)")
    return BlockStack(best[1], best[2])


def find_embeddings(model: nn.Module) -> str:
    """Module path of the embeddings: attribute `embeddings` (BERT family), else the module
    holding the input embedding table, else the table itself (decoders keep it on the model)."""
    from torch import nn

    modules = dict(model.named_modules())
    target = getattr(model, EMBEDDINGS, None)
    if not isinstance(target, nn.Module) and hasattr(model, "get_input_embeddings"):
        table = model.get_input_embeddings()
        parents = [module for name, module in modules.items()
                   if name and any(child is table for child in module.children())]
        target = parents[0] if parents and not _holds_blocks(parents[0], model) else table
    for name, module in modules.items():
        if module is target and name:
            return name
    raise ConfigError(f"cannot find the embeddings module of {type(model).__name__}")


def _holds_blocks(module: nn.Module, model: nn.Module) -> bool:
    """Whether `module` contains the block stack (then it is the model body, not embeddings)."""
    blocks = find_blocks(model).blocks
    return any(child is blocks for child in module.modules())


def layers_of_parameters(model: nn.Module, names: Sequence[str]) -> list[str]:
    """The layers holding the named parameters, in model order (a regex RANDOM-INIT's layers);
    parameters outside the embeddings and the blocks (pooler, head) belong to none."""
    stack, embeddings = find_blocks(model), find_embeddings(model)
    blocks: set[int] = set()
    has_embeddings = False
    for name in names:
        if name.startswith(stack.prefix + "."):
            blocks.add(int(name[len(stack.prefix) + 1:].split(".")[0]))
        elif name.startswith(embeddings + "."):
            has_embeddings = True
    return LayerSelection(tuple(sorted(blocks)), has_embeddings).names
