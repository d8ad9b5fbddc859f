"""One layer vocabulary for the whole toolkit, named after the architecture.

    embeddings   the embedding module; in analyses its output, `hidden_states[0]`
    block.K      transformer block K (0-based); in analyses its OUTPUT, `hidden_states[K + 1]`

RANDOM-INIT (`--random-init block.0-1`) re-draws blocks 0 and 1, and the similarity at
`block.1` is measured at the output of the last block it re-drew: the same names mean the same
modules everywhere (CLI input, JSON keys, CSV headers, figure axes, tables).

Input specs accept `embeddings`, `block.K`, `block.A-B` and lists of them (`block.0,block.3`);
bare integers and ranges (`0-1`, `10,11`) are an alias for blocks (the pre-2 syntax).

The block stack is found from the module tree, without a table of architectures: the
nn.ModuleList as long as the configured depth, of one class of children, holding the most
parameters (BERT/XLM-R `encoder.layer`, DistilBERT `transformer.layer`, GPT-2 and BLOOM `h`,
Llama/Qwen2/Gemma `model.layers`, OPT `decoder.layers`, also under a multimodal wrapper's text
model). A model without one is refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from alignscope.errors import AlignscopeError, ConfigError

# Which parameters of the selected layers an ablation touches (alignscope.models.reinit).
Scope = Literal["all", "attention", "ffn", "layernorm"]

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


def _configured_depth(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    if config is None:
        return None
    if callable(getattr(config, "get_text_config", None)):
        config = config.get_text_config()
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return None


def find_blocks(model: nn.Module) -> BlockStack:
    """The block stack: among the ModuleLists holding parameters, prefer the one as long as the
    configured depth, then one whose children share a class (a hybrid stack such as Jamba's
    mixes two), then the one holding the most parameters (ties: the first in module order).
    Nested wrappers and decoder layouts need no table."""
    from torch import nn

    depth = _configured_depth(model)

    def rank(stack: nn.ModuleList) -> tuple[bool, bool, int]:
        return (len(stack) == depth, len({type(child) for child in stack}) == 1,
                _parameter_count(stack))

    best: tuple[tuple[bool, bool, int], str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        key = rank(module)
        if key[2] > 0 and (key[0] or key[1]) and (best is None or key > best[0]):
            best = (key, name, module)
    if best is None:
        raise AlignscopeError(
            f"cannot find the transformer blocks of {type(model).__name__}: no nn.ModuleList of "
            "identical blocks with parameters; alignscope dissects models that keep their "
            "blocks in one (encoder.layer, model.layers, h ...)")
    return BlockStack(best[1], best[2])


_EMBEDDING_NAME = re.compile(r"(^|_)emb", re.IGNORECASE)


def find_embeddings(model: nn.Module) -> list[str]:
    """Module paths of the input embeddings: the top-most modules outside the blocks that hold
    parameters and are embedding tables or named after embeddings. BERT `embeddings` (token,
    position, type tables and their norm), GPT-2 `wte` and `wpe`, Llama `model.embed_tokens`,
    BLOOM `word_embeddings` and `word_embeddings_layernorm`."""
    from torch import nn

    blocks = find_blocks(model).prefix
    found: list[str] = []
    for name, module in model.named_modules():
        if not name or name == blocks or any(name.startswith(f"{outer}.")
                                             for outer in (blocks, *found)):
            continue
        named = _EMBEDDING_NAME.search(name.rsplit(".", 1)[-1]) is not None
        if (isinstance(module, nn.Embedding) or named) and _parameter_count(module) > 0:
            found.append(name)
    if not found:
        raise ConfigError(f"cannot find the input embeddings of {type(model).__name__}")
    return found


def layers_of_parameters(model: nn.Module, names: Sequence[str]) -> list[str]:
    """The layers holding the named parameters, in model order (a regex RANDOM-INIT's layers);
    parameters outside the embeddings and the blocks (pooler, head) belong to none."""
    stack, embeddings = find_blocks(model), tuple(f"{e}." for e in find_embeddings(model))
    blocks: set[int] = set()
    has_embeddings = False
    for name in names:
        if name.startswith(stack.prefix + "."):
            blocks.add(int(name[len(stack.prefix) + 1:].split(".")[0]))
        elif name.startswith(embeddings):
            has_embeddings = True
    return LayerSelection(tuple(sorted(blocks)), has_embeddings).names
