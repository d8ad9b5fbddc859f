"""Where the layer vocabulary (alignscope.layer_names) lives in a model's module tree.

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
from alignscope.layer_names import LayerSelection

# Which parameters of the selected layers an ablation touches (alignscope.models.reinit).
Scope = Literal["all", "attention", "ffn", "layernorm"]

if TYPE_CHECKING:  # torch is imported where modules are searched
    from torch import nn


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


def configured_depth(config: object) -> int | None:
    """The number of blocks a model's config declares (a multimodal wrapper's: its text
    model's); None if it declares none. `find_blocks` prefers the stack of this length, and
    sweeps plan layer groups with it from the config alone, so both count the same blocks."""
    if callable(getattr(config, "get_text_config", None)):
        config = config.get_text_config()
    for key in ("num_hidden_layers", "n_layer", "n_layers", "num_layers"):
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def find_blocks(model: nn.Module) -> BlockStack:
    """The block stack: among the ModuleLists holding parameters, prefer the one as long as the
    configured depth, then one whose children share a class (a hybrid stack such as Jamba's
    mixes two), then the one holding the most parameters (ties: the first in module order).
    Nested wrappers and decoder layouts need no table."""
    from torch import nn

    config = getattr(model, "config", None)
    depth = None if config is None else configured_depth(config)

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
