"""The layer vocabulary: names, specs and the hidden-state mapping (no torch needed)."""

from __future__ import annotations

import warnings

import pytest

from alignscope.errors import ConfigError, Deprecated
from alignscope.layer_names import (
    LayerSelection,
    hidden_state_index,
    layer_names,
    layer_of_hidden_state,
    parse_layers,
)


def test_names_and_hidden_state_indices_are_inverse() -> None:
    assert layer_names(2) == ["embeddings", "block.0", "block.1"]
    for index, name in enumerate(layer_names(12)):
        assert hidden_state_index(name) == index
        assert layer_of_hidden_state(index) == name
    with pytest.raises(ConfigError, match=r"unknown layer 'layer\.3'"):
        hidden_state_index("layer.3")


@pytest.mark.parametrize(("spec", "blocks", "embeddings"), [
    ("block.0-1", (0, 1), False), ("block.2,block.3", (2, 3), False), ("embeddings", (), True),
    ("0-1", (0, 1), False), ("10,11", (10, 11), False), ("block.1, embeddings,0", (0, 1), True),
    ("block.3-block.5", (3, 4, 5), False),
])
def test_parse_layers(spec: str, blocks: tuple[int, ...], embeddings: bool) -> None:
    bare = [item.strip() for item in spec.split(",") if item.strip()[:1].isdigit()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parse_layers(spec, 12) == LayerSelection(blocks, embeddings)
    # The pre-2 bare numbers still mean blocks, each with a warning naming 0.3 and the fix.
    assert [str(w.message) for w in caught if w.category is Deprecated] == [
        f"the bare layer number {item!r} in {spec!r} is deprecated and will be removed in "
        f"alignscope 0.3; use {parse_layers('block.' + item.replace('-', '-block.'))!s}"
        for item in bare]
    assert parse_layers(spec, 12, bare=True) == LayerSelection(blocks, embeddings)


def test_selection_prints_compact_canonical_names() -> None:
    selection = parse_layers("block.5,embeddings,block.0-2")
    assert str(selection) == "embeddings,block.0-2,block.5"
    assert selection.names == ["embeddings", "block.0", "block.1", "block.2", "block.5"]
    assert parse_layers(str(selection)) == selection


@pytest.mark.parametrize(("spec", "message"), [
    ("", "bad layer spec"), ("block.x", "bad item 'block.x'"), ("block.3-1", "write it as block.1-3"),
    ("block.12", "block.12 does not exist: the model has 12 blocks, block.0-11"),
    ("0,,1", "bad layer spec"),
])
def test_bad_specs_name_the_fix(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_layers(spec, 12)
