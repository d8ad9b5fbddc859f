"""The layer vocabulary, one for the whole toolkit, named after the architecture.

    embeddings   the embedding module; in analyses its output, `hidden_states[0]`
    block.K      transformer block K (0-based); in analyses its OUTPUT, `hidden_states[K + 1]`

RANDOM-INIT (`--random-init block.0-1`) re-draws blocks 0 and 1, and the similarity at
`block.1` is measured at the output of the last block it re-drew: the same names mean the same
modules everywhere (CLI input, JSON keys, CSV headers, figure axes, tables).

Input specs accept `embeddings`, `block.K`, `block.A-B` and lists of them (`block.0,block.3`);
bare integers and ranges (`0-1`, `10,11`), the pre-2 syntax, still mean blocks but are
deprecated (they warn; removed in alignscope 0.3).

Pure string logic, importable from every layer (result files, option classes, `--help`) without
torch; `alignscope.models.layers` finds the modules these names stand for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from alignscope.errors import ConfigError, deprecated

EMBEDDINGS = "embeddings"
BLOCK = "block"
_BLOCK_NAME = re.compile(r"^block\.([0-9]+)$")
_BLOCK_ITEM = re.compile(r"^(?:block\.)?([0-9]+)(?:\s*-\s*(?:block\.)?([0-9]+))?$")
SPEC_HELP = ("name layers as 'embeddings', 'block.K' or 'block.A-B', comma-separated, e.g. "
             "'block.0-1' or 'embeddings,block.11'")


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


def parse_layers(spec: str | Sequence[str], num_blocks: int | None = None, *,
                 bare: bool = False) -> LayerSelection:
    """Parse a layer spec (or a list of names); with `num_blocks`, check that each block exists.
    A bare number (`0-1`) warns that it is deprecated, unless `bare` says it is expected (a
    version-1 result file, read as such)."""
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
            raise ConfigError(f"reversed range {item!r} in layer spec {spec!r}", "write it as "
                              f"{block_name(end)}-{start}")
        if not bare and not item.lower().startswith(BLOCK):
            deprecated(f"the bare layer number {item!r} in {spec!r}",
                       f"{block_name(start)}{'' if start == end else f'-{end}'}")
        blocks.update(range(start, end + 1))
    selection = LayerSelection(tuple(sorted(blocks)), embeddings)
    if num_blocks is not None:
        check_blocks(selection, num_blocks)
    return selection


def check_blocks(selection: LayerSelection, num_blocks: int) -> None:
    missing = [index for index in selection.blocks if index >= num_blocks]
    if missing:
        verb = "does" if len(missing) == 1 else "do"
        raise ConfigError(
            f"{LayerSelection(tuple(missing))} {verb} not exist: the model has {num_blocks} "
            f"blocks, block.0-{num_blocks - 1} (or 'embeddings')")
