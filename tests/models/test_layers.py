"""Generic block discovery: where the layer vocabulary lives in a model's module tree."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from torch import nn
from transformers import (
    BertConfig,
    BertModel,
    CLIPVisionConfig,
    GPT2Config,
    GPT2Model,
    LlamaConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
    PreTrainedTokenizerFast,
)

from alignscope.errors import AlignscopeError
from alignscope.experiments.plan import model_depth
from alignscope.layer_names import hidden_state_index, layer_names
from alignscope.models.layers import configured_depth, find_blocks, find_embeddings, layers_of_parameters


def tiny_bert() -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=3,
                                num_attention_heads=2, intermediate_size=16,
                                max_position_embeddings=16))


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


def test_the_depth_a_sweep_plans_with_is_the_depth_of_the_module_tree(tmp_path) -> None:
    """A multimodal wrapper: 3 text blocks, 5 vision blocks. The config alone (what a sweep
    reads, no weights) and the module tree (what fine-tuning re-draws) count the same 3."""
    text = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                       num_attention_heads=2, num_key_value_heads=2)
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=5,
                              num_attention_heads=2, image_size=32, patch_size=8)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=60)
    model = LlavaForConditionalGeneration(config)
    assert configured_depth(config) == len(find_blocks(model)) == 3
    assert find_blocks(model).prefix == "model.language_model.layers"
    model.save_pretrained(tmp_path / "llava")
    words = Tokenizer(WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]").save_pretrained(
        tmp_path / "llava")
    assert model_depth(str(tmp_path / "llava")) == 3
    gpt2 = GPT2Config(vocab_size=50, n_embd=8, n_layer=2, n_head=2, n_positions=16)
    assert configured_depth(gpt2) == len(find_blocks(GPT2Model(gpt2))) == 2
