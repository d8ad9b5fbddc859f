"""RANDOM-INIT on tiny BERT / XLM-R / DistilBERT encoders saved and reloaded with
`AutoModel.from_pretrained`, so that every tensor carries transformers' `_is_hf_initialized`
flag (the trap that makes a naive `_init_weights` call a silent no-op)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import (
    AutoModel,
    BertConfig,
    DistilBertConfig,
    PretrainedConfig,
    XLMRobertaConfig,
)

from alignscope.errors import ConfigError, UnknownNameError
from alignscope.layer_names import LayerSelection, parse_layers
from alignscope.models.reinit import ReinitRecord, parse_scheme, reinitialize

INIT_RANGE = 0.05
SMALL = {"vocab_size": 99, "max_position_embeddings": 40, "initializer_range": INIT_RANGE}
CONFIGS: dict[str, PretrainedConfig] = {
    "bert": BertConfig(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                       intermediate_size=256, **SMALL),
    "xlm-roberta": XLMRobertaConfig(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                    intermediate_size=256, pad_token_id=1, **SMALL),
    "distilbert": DistilBertConfig(dim=64, n_layers=4, n_heads=4, hidden_dim=256, **SMALL),
}
LAYER_PREFIX = {"bert": "encoder.layer", "xlm-roberta": "encoder.layer",
                "distilbert": "transformer.layer"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved checkpoint per architecture, perturbed so that no tensor (LayerNorm, bias)
    already holds the value a re-initialisation would give it."""
    directories = {}
    for kind, config in CONFIGS.items():
        torch.manual_seed(0)
        model = AutoModel.from_config(config)
        with torch.no_grad():
            for param in model.parameters():
                param.add_(0.1 * torch.randn_like(param))
        directories[kind] = tmp_path_factory.mktemp(kind)
        model.save_pretrained(directories[kind])
    return directories


def load(saved: dict[str, Path], kind: str = "bert") -> nn.Module:
    return AutoModel.from_pretrained(saved[kind])


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, persistent or not."""
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    return {name: tensor.detach().clone() for name, tensor in tensors.items()}


def names(records: list[ReinitRecord]) -> list[str]:
    return [record.name for record in records]


def pooled(model: nn.Module, records: list[ReinitRecord], suffix: str) -> torch.Tensor:
    """The re-drawn tensors named `*suffix`, norms left out, as one flat tensor."""
    params = dict(model.named_parameters())
    return torch.cat([params[name].detach().flatten() for name in names(records)
                      if name.endswith(suffix) and not is_norm(name)])


def is_norm(name: str) -> bool:
    return "LayerNorm" in name or "layer_norm" in name


# --- layer specs and schemes -------------------------------------------------------------


@pytest.mark.parametrize(("spec", "layers", "embeddings"), [
    ("block.0-1", (0, 1), False),
    ("block.10,block.11", (10, 11), False),
    ("block.0-1,embeddings", (0, 1), True),
    (" embeddings ", (), True),
    ("block.3, block.0 - 1 ,block.1", (0, 1, 3), False),
])
def test_parse_layers(spec: str, layers: tuple[int, ...], embeddings: bool) -> None:
    selection = parse_layers(spec, 12)
    assert selection == LayerSelection(layers, embeddings)
    assert parse_layers(str(selection), 12) == selection


@pytest.mark.parametrize("spec", ["", "1,", "a", "1-", "-1", "1.5", "embedding", "1-2-3"])
def test_parse_layer_spec_rejects_bad_syntax(spec: str) -> None:
    with pytest.raises(ConfigError, match="layer spec"):
        parse_layers(spec, 12)


def test_parse_layer_spec_rejects_reversed_range() -> None:
    with pytest.raises(ConfigError, match=r"reversed range.*block.1-3"):
        parse_layers("block.3-1", 12)


def test_layer_outside_the_model_states_the_valid_range(saved: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"block.4 does not exist.*4 blocks.*block.0-3"):
        parse_layers("block.2-4", 4)
    model = load(saved)
    before = snapshot(model)
    with pytest.raises(ConfigError, match=r"0-3"):
        reinitialize(model, LayerSelection((1, 7)))
    assert all(torch.equal(before[name], tensor) for name, tensor in snapshot(model).items())


def test_parse_scheme() -> None:
    assert str(parse_scheme("model")) == "model"
    assert str(parse_scheme("torch-default")) == "torch-default"
    assert parse_scheme("normal:0.3").sigma == 0.3
    for bad in ("normal", "normal:abc", "normal:-1", "normal:0", "model:1"):
        with pytest.raises(ConfigError):
            parse_scheme(bad)
    with pytest.raises(UnknownNameError, match="torch-default"):
        parse_scheme("torch_default")


def test_bad_options_are_errors(saved: dict[str, Path]) -> None:
    model = load(saved)
    with pytest.raises(UnknownNameError):
        reinitialize(model, LayerSelection((0,)), scheme="xavier")
    with pytest.raises(UnknownNameError):
        reinitialize(model, LayerSelection((0,)), scope="mlp")
    with pytest.raises(ConfigError, match="exactly one"):
        reinitialize(model, LayerSelection((0,)), regex="query")
    with pytest.raises(ConfigError, match="exactly one"):
        reinitialize(model)
    with pytest.raises(ConfigError, match="matches no parameter"):
        reinitialize(model, regex="no_such_parameter")
    with pytest.raises(ConfigError, match="bad parameter regex"):
        reinitialize(model, regex="(")
    with pytest.raises(ConfigError, match="empty layer selection"):
        reinitialize(model, LayerSelection())


# --- what changes and what does not ------------------------------------------------------


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_only_the_selection_changes(saved: dict[str, Path], kind: str) -> None:
    model = load(saved, kind)
    # The trap is armed: a naive `_init_weights` call would skip every one of these.
    assert all(getattr(param, "_is_hf_initialized", False) for param in model.parameters())
    before = snapshot(model)
    records = reinitialize(model, parse_layers("block.1,embeddings", 4), seed=1)

    expected = [name for name, _ in model.named_parameters()
                if name.startswith((f"{LAYER_PREFIX[kind]}.1.", "embeddings."))]
    assert names(records) == expected
    after = snapshot(model)
    for name in before:
        assert torch.equal(before[name], after[name]) == (name not in expected), name
    # The flags are left as loaded.
    assert all(getattr(param, "_is_hf_initialized", False) for param in model.parameters())


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_model_scheme_follows_the_model_init(saved: dict[str, Path], kind: str) -> None:
    model = load(saved, kind)
    records = reinitialize(model, LayerSelection((0, 2)), scheme="model", seed=0)
    weights = pooled(model, records, "weight")
    assert weights.numel() > 50_000
    assert weights.std().item() == pytest.approx(INIT_RANGE, rel=0.03)
    assert abs(weights.mean().item()) < 4 * INIT_RANGE / math.sqrt(weights.numel())
    params = dict(model.named_parameters())
    for name in names(records):
        if is_norm(name):
            assert torch.equal(params[name], torch.full_like(params[name],
                                                             1.0 if name.endswith("weight") else 0))
        elif name.endswith("bias"):
            assert torch.equal(params[name], torch.zeros_like(params[name]))
    record = records[0]
    assert record.std == pytest.approx(params[record.name].double().std(correction=0).item())
    assert record.to_dict() == {"name": record.name, "shape": list(params[record.name].shape),
                                "mean": record.mean, "std": record.std}


def test_normal_scheme_uses_the_given_sigma(saved: dict[str, Path]) -> None:
    model = load(saved)
    records = reinitialize(model, LayerSelection((3,)), scheme="normal:0.3", seed=0)
    weights = pooled(model, records, "weight")
    assert weights.std().item() == pytest.approx(0.3, rel=0.03)
    assert abs(weights.mean().item()) < 4 * 0.3 / math.sqrt(weights.numel())
    biases = pooled(model, records, "bias")
    assert torch.equal(biases, torch.zeros_like(biases))


def test_torch_default_is_pytorch_module_init(saved: dict[str, Path]) -> None:
    by_torch, by_model = load(saved), load(saved)
    records = reinitialize(by_torch, LayerSelection((1,)), scheme="torch-default", seed=0)
    reinitialize(by_model, LayerSelection((1,)), scheme="model", seed=0)
    params = dict(by_torch.named_parameters())
    modules = dict(by_torch.named_modules())
    for name in names(records):
        module = modules[name.rsplit(".", 1)[0]]
        if isinstance(module, nn.Linear):
            # nn.Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) and a uniform bias, both
            # bounded by 1/sqrt(fan_in); the model scheme would give a zero bias.
            bound = 1 / math.sqrt(module.in_features)
            assert params[name].abs().max().item() <= bound
            assert params[name].std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    biases = pooled(by_torch, records, "bias")
    assert biases.abs().min().item() > 0
    weights = pooled(by_torch, records, "weight")
    assert not torch.equal(weights, pooled(by_model, records, "weight"))


def test_seed_makes_it_a_pure_function(saved: dict[str, Path]) -> None:
    first, second, third = load(saved), load(saved), load(saved)
    rng = torch.get_rng_state()
    reinitialize(first, LayerSelection((2,), embeddings=True), seed=7)
    assert torch.equal(torch.get_rng_state(), rng)  # the global stream is untouched
    torch.rand(5)  # and reinitialize does not depend on it
    reinitialize(second, LayerSelection((2,), embeddings=True), seed=7)
    reinitialize(third, LayerSelection((2,), embeddings=True), seed=8)
    one, two, three = snapshot(first), snapshot(second), snapshot(third)
    assert all(torch.equal(one[name], two[name]) for name in one)
    query = "encoder.layer.2.attention.self.query.weight"
    assert not torch.equal(one[query], three[query])


EXPECTED_SCOPES = {
    ("bert", "attention"): ["attention.self.query.weight", "attention.self.query.bias",
                            "attention.self.key.weight", "attention.self.key.bias",
                            "attention.self.value.weight", "attention.self.value.bias",
                            "attention.output.dense.weight", "attention.output.dense.bias"],
    ("bert", "ffn"): ["intermediate.dense.weight", "intermediate.dense.bias",
                      "output.dense.weight", "output.dense.bias"],
    ("bert", "layernorm"): ["attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                            "output.LayerNorm.weight", "output.LayerNorm.bias"],
    ("distilbert", "attention"): [f"attention.{lin}.{kind}" for lin in
                                  ("q_lin", "k_lin", "v_lin", "out_lin")
                                  for kind in ("weight", "bias")],
    ("distilbert", "ffn"): ["ffn.lin1.weight", "ffn.lin1.bias", "ffn.lin2.weight", "ffn.lin2.bias"],
    ("distilbert", "layernorm"): ["sa_layer_norm.weight", "sa_layer_norm.bias",
                                  "output_layer_norm.weight", "output_layer_norm.bias"],
}


@pytest.mark.parametrize(("kind", "scope"), list(EXPECTED_SCOPES))
def test_scope_narrows_the_layer(saved: dict[str, Path], kind: str, scope: str) -> None:
    model = load(saved, kind)
    before = snapshot(model)
    records = reinitialize(model, LayerSelection((2,)), scope=scope)
    prefix = f"{LAYER_PREFIX[kind]}.2."
    assert sorted(names(records)) == sorted(prefix + name for name in EXPECTED_SCOPES[kind, scope])
    after = snapshot(model)
    assert [name for name in before if not torch.equal(before[name], after[name])] \
        == names(records)


def test_embedding_tables_belong_to_scope_all_only(saved: dict[str, Path]) -> None:
    records = reinitialize(load(saved), LayerSelection(embeddings=True), scope="layernorm")
    assert names(records) == ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]


@pytest.mark.parametrize("scheme", ["model", "torch-default", "normal:0.1"])
def test_regex_reinitialises_single_parameters(saved: dict[str, Path], scheme: str) -> None:
    model = load(saved)
    before = snapshot(model)
    records = reinitialize(model, regex=r"attention\.self\.query\.weight$", scheme=scheme)
    assert names(records) == [f"encoder.layer.{i}.attention.self.query.weight" for i in range(4)]
    after = snapshot(model)
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    # torch-default resets whole nn.Linear modules; the unselected biases are put back.
    assert changed == names(records)


def test_regex_matches_the_authors_way(saved: dict[str, Path]) -> None:
    """An anchored regex over one layer draws exactly what the layer selection draws."""
    by_regex, by_layers = load(saved), load(saved)
    reinitialize(by_regex, regex=r"^encoder\.layer\.1\.", seed=3)
    reinitialize(by_layers, LayerSelection((1,)), seed=3)
    one, two = snapshot(by_regex), snapshot(by_layers)
    assert all(torch.equal(one[name], two[name]) for name in one)


def test_skipped_tensors_are_detected_and_nothing_changes(saved: dict[str, Path]) -> None:
    model = load(saved)
    before = snapshot(model)
    model._init_weights = lambda module: None  # an initialiser that silently writes nothing
    with pytest.raises(RuntimeError, match="untouched"):
        reinitialize(model, LayerSelection((0,)))
    after = snapshot(model)
    assert all(torch.equal(before[name], after[name]) for name in before)
