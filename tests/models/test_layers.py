"""The layer vocabulary: names, specs, the hidden-state mapping and generic block discovery."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaForCausalLM

from alignscope.errors import AlignscopeError, ConfigError
from alignscope.models.layers import (
    LayerSelection,
    find_blocks,
    find_embeddings,
    hidden_state_index,
    layer_names,
    layer_of_hidden_state,
    layers_of_parameters,
    parse_layers,
)


def tiny_bert() -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=3,
                                num_attention_heads=2, intermediate_size=16,
                                max_position_embeddings=16))


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
    assert parse_layers(spec, 12) == LayerSelection(blocks, embeddings)


def test_selection_prints_compact_canonical_names() -> None:
    selection = parse_layers("5,embeddings,0-2")
    assert str(selection) == "embeddings,block.0-2,block.5"
    assert selection.names == ["embeddings", "block.0", "block.1", "block.2", "block.5"]
    assert parse_layers(str(selection)) == selection


@pytest.mark.parametrize(("spec", "message"), [
    ("", "bad layer spec"), ("block.x", "bad item 'block.x'"), ("3-1", "write it as block.1-3"),
    ("block.12", "block.12 does not exist: the model has 12 blocks, block.0-11"),
    ("0,,1", "bad layer spec"),
])
def test_bad_specs_name_the_fix(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_layers(spec, 12)


def test_block_k_is_hidden_state_k_plus_1() -> None:
    """The documented mapping, checked on the model: block.K's output is hidden_states[K+1]."""
    model = tiny_bert().eval()
    stack = find_blocks(model)
    assert stack.prefix == "encoder.layer" and len(stack) == 3
    outputs: list[torch.Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: outputs.append(
        out[0] if isinstance(out, tuple) else out)) for block in stack.blocks]
    with torch.no_grad():
        states = model(input_ids=torch.tensor([[2, 5, 7, 3]]), output_hidden_states=True).hidden_states
    for hook in hooks:
        hook.remove()
    assert len(states) == len(layer_names(len(stack)))
    for index, output in enumerate(outputs):
        assert torch.equal(states[hidden_state_index(f"block.{index}")], output)


def test_discovery_finds_decoder_and_wrapped_stacks() -> None:
    gpt2 = GPT2Model(GPT2Config(vocab_size=50, n_embd=8, n_layer=2, n_head=2, n_positions=16))
    assert find_blocks(gpt2).prefix == "h"
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=8, intermediate_size=16,
                                         num_hidden_layers=3, num_attention_heads=2,
                                         num_key_value_heads=2))
    assert (find_blocks(llama).prefix, len(find_blocks(llama))) == ("model.layers", 3)
    assert find_embeddings(llama) == ["model.embed_tokens"]  # rotary_emb holds no parameter
    assert find_embeddings(llama.model) == ["embed_tokens"]
    assert find_embeddings(gpt2) == ["wte", "wpe"]  # token and position tables

    class Wrapper(nn.Module):  # a multimodal-style wrapper: text model under another name
        def __init__(self) -> None:
            super().__init__()
            self.text_model = tiny_bert()
            self.adapters = nn.ModuleList(nn.Linear(2, 2) for _ in range(20))  # small, many
            self.mixed = nn.ModuleList([nn.Linear(64, 64), nn.ReLU()])  # not identical blocks

    assert find_blocks(Wrapper()).module_name(1) == "text_model.encoder.layer.1"


def test_a_model_without_blocks_is_refused() -> None:
    with pytest.raises(AlignscopeError, match="cannot find the transformer blocks of Sequential"):
        find_blocks(nn.Sequential(nn.Linear(2, 2)))


def test_layers_of_parameters() -> None:
    model = tiny_bert()
    names = ["encoder.layer.2.output.dense.weight", "embeddings.word_embeddings.weight",
             "pooler.dense.weight", "encoder.layer.0.attention.self.query.bias"]
    assert layers_of_parameters(model, names) == ["embeddings", "block.0", "block.2"]
