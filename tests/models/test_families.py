"""Every family loads, exposes its hidden states and block stack, and supports RANDOM-INIT with
the intended distribution; found by inspecting the module tree, not by a table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedTokenizerFast, T5Config

from alignscope.errors import AlignscopeError, UnknownNameError
from alignscope.layer_names import LayerSelection
from alignscope.models.encoder import load_encoder
from alignscope.models.layers import find_blocks, find_embeddings
from alignscope.models.reinit import is_norm, reinitialize, select_parameters

FAMILIES = ("llama", "qwen2", "gemma", "gemma3", "gpt2", "bert", "xlm-roberta")  # tests/conftest.py
DECODERS = ("llama", "qwen2", "gemma", "gemma3", "gpt2")
PREFIX = {"gpt2": "h", "bert": "encoder.layer", "xlm-roberta": "encoder.layer"}
EMBEDDINGS = {"gpt2": ["wte", "wpe"], "bert": ["embeddings"], "xlm-roberta": ["embeddings"]}


def prefix(family: str) -> str:
    return PREFIX.get(family, "layers")


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    return {name: tensor.detach().clone() for name, tensor in tensors.items()}


def changed(before: dict[str, torch.Tensor], model: nn.Module) -> list[str]:
    after = snapshot(model)
    return [name for name in before if not torch.equal(before[name], after[name])]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_loads_with_hidden_states_and_block_names(families: dict[str, Path], family: str) -> None:
    assert tuple(families) == FAMILIES
    encoder = load_encoder(families[family])
    model = encoder.model
    assert (encoder.num_blocks, encoder.hidden_size) == (3, 32)
    assert encoder.is_causal == (family in DECODERS)
    assert find_blocks(model).prefix == prefix(family)
    assert find_embeddings(model) == EMBEDDINGS.get(family, ["embed_tokens"])
    assert encoder.tokenizer.pad_token is not None  # set to EOS where the tokenizer had none
    ids = encoder.tokenizer(["The cat sat on the mat ."], return_tensors="pt").input_ids
    with torch.no_grad():
        full = model(input_ids=ids, output_hidden_states=True).hidden_states
        prefix_only = model(input_ids=ids[:, :4], output_hidden_states=True).hidden_states
    assert len(full) == encoder.num_blocks + 1
    assert all(h.shape == (1, ids.shape[1], 32) for h in full)
    # Causal means what it says: the first tokens' states ignore the tokens after them.
    sees_only_the_past = all(torch.allclose(a[:, :4], b, atol=1e-5)
                             for a, b in zip(full, prefix_only, strict=True))
    assert sees_only_the_past == encoder.is_causal


def test_a_text_config_wrapper_loads_as_its_language_model(llava: Path) -> None:
    wrapper = AutoModel.from_pretrained(llava)
    assert wrapper.config.get_text_config() is not wrapper.config
    encoder = load_encoder(llava)
    assert type(encoder.model).__name__ == "LlamaModel" and encoder.is_causal
    assert encoder.num_blocks == 3 and find_blocks(encoder.model).prefix == "layers"
    reference = wrapper.language_model.state_dict()
    assert all(torch.equal(reference[k], v) for k, v in encoder.model.state_dict().items())


def test_a_model_without_a_block_stack_is_a_clear_error() -> None:
    with pytest.raises(AlignscopeError, match="cannot find the transformer blocks of Sequential"):
        find_blocks(nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 4)))


def test_an_encoder_decoder_is_refused_at_load(families: dict[str, Path], tmp_path: Path) -> None:
    config = T5Config(vocab_size=600, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_heads=2)
    AutoModel.from_config(config).save_pretrained(tmp_path)
    PreTrainedTokenizerFast.from_pretrained(families["llama"]).save_pretrained(tmp_path)
    with pytest.raises(AlignscopeError, match=r"encoder-decoder \(t5\)"):
        load_encoder(tmp_path)


def test_weights_load_in_the_requested_dtype(families: dict[str, Path]) -> None:
    encoder = load_encoder(families["llama"], dtype="bf16")
    assert {p.dtype for p in encoder.model.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in load_encoder(families["llama"]).model.parameters()} \
        == {torch.float32}
    with pytest.raises(UnknownNameError, match="bfloat16"):
        load_encoder(families["llama"], dtype="bfloat61")


def test_device_map_is_passed_to_transformers(families: dict[str, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from alignscope.models import encoder as module

    if importlib.util.find_spec("accelerate") is None:
        with pytest.raises(AlignscopeError, match=r"alignscope\[big\]"):
            load_encoder(families["llama"], device_map="auto")
    seen: dict[str, object] = {}
    original = AutoModel.from_pretrained

    def spy(*args: object, **kwargs: object) -> nn.Module:
        seen.update(kwargs)
        kwargs.pop("device_map")  # this machine has no accelerate and no GPU to spread over
        return original(*args, **kwargs)

    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(module.AutoModel, "from_pretrained", spy)
    load_encoder(families["llama"], device_map="auto", dtype="bfloat16")
    assert seen["device_map"] == "auto" and seen["dtype"] == torch.bfloat16


@pytest.mark.parametrize("family", list(FAMILIES))
def test_random_init_changes_exactly_the_selection(families: dict[str, Path],
                                                   family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    before = snapshot(model)
    records = reinitialize(model, LayerSelection((1,), embeddings=True), seed=1)
    regions = (f"{prefix(family)}.1.", *(f"{name}." for name in EMBEDDINGS.get(
        family, ["embed_tokens"])))
    expected = [name for name, _ in model.named_parameters() if name.startswith(regions)]
    assert [record.name for record in records] == expected
    assert changed(before, model) == expected


@pytest.mark.parametrize("family", list(FAMILIES))
def test_random_init_draws_the_model_distribution(families: dict[str, Path],
                                                  family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    records = reinitialize(model, LayerSelection((0, 2), embeddings=True), seed=0)
    params, modules = dict(model.named_parameters()), dict(model.named_modules())
    weights, scaled = [], []
    for record in records:
        tensor = params[record.name].detach()
        owner = modules[record.name.rsplit(".", 1)[0]]
        if is_norm(owner):
            # Identity norms; Gemma's RMSNorm computes x * (1 + w), so its identity is w = 0.
            identity = 0.0 if family in ("gemma", "gemma3") or record.name.endswith("bias") else 1.0
            assert torch.equal(tensor, torch.full_like(tensor, identity)), record.name
        elif record.name.endswith("bias"):
            assert torch.equal(tensor, torch.zeros_like(tensor)), record.name
        elif family == "gpt2" and record.name.endswith("c_proj.weight"):
            scaled.append(tensor.flatten())
        else:
            weights.append(tensor.flatten())
    sigma = AutoConfig.from_pretrained(families[family]).initializer_range
    drawn = torch.cat(weights)
    assert drawn.numel() > 20_000
    assert drawn.std().item() == pytest.approx(sigma, rel=0.04)
    assert abs(drawn.mean().item()) < 4 * sigma / math.sqrt(drawn.numel())
    if family == "gpt2":  # GPT-2 scales residual projections by 1/sqrt(2 * n_layer)
        assert torch.cat(scaled).std().item() == pytest.approx(sigma / math.sqrt(6), rel=0.06)


SCOPES = {
    ("llama", "attention"): [f"self_attn.{p}_proj.weight" for p in "qkvo"],
    ("llama", "ffn"): [f"mlp.{p}_proj.weight" for p in ("gate", "up", "down")],
    ("llama", "layernorm"): ["input_layernorm.weight", "post_attention_layernorm.weight"],
    ("gpt2", "attention"): [f"attn.{m}.{k}" for m in ("c_attn", "c_proj") for k in ("weight", "bias")],
    ("gpt2", "ffn"): [f"mlp.{m}.{k}" for m in ("c_fc", "c_proj") for k in ("weight", "bias")],
    ("gpt2", "layernorm"): [f"ln_{i}.{k}" for i in (1, 2) for k in ("weight", "bias")],
}


@pytest.mark.parametrize(("family", "scope"), list(SCOPES))
def test_scope_is_found_by_inspection(families: dict[str, Path], family: str, scope: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    before = snapshot(model)
    records = reinitialize(model, LayerSelection((2,)), scope=scope, scheme="normal:0.1")
    assert sorted(r.name for r in records) == sorted(f"{prefix(family)}.2.{n}"
                                                     for n in SCOPES[family, scope])
    assert sorted(changed(before, model)) == sorted(r.name for r in records)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_scopes_partition_every_block(families: dict[str, Path], family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    block = list(select_parameters(model, LayerSelection((1,))))
    parts = [list(select_parameters(model, LayerSelection((1,)), scope=scope))
             for scope in ("attention", "ffn", "layernorm")]
    assert all(parts), parts
    assert sorted(name for part in parts for name in part) == sorted(block)


@pytest.mark.parametrize("family", ["llama", "gemma"])
def test_normal_scheme_resets_norms_to_the_identity(families: dict[str, Path],
                                                    family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    records = reinitialize(model, LayerSelection((0,)), scope="layernorm", scheme="normal:0.3")
    identity = 0.0 if family == "gemma" else 1.0
    params = dict(model.named_parameters())
    assert records and all(torch.equal(params[r.name], torch.full_like(params[r.name], identity))
                           for r in records)
