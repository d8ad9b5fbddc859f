"""Language-specific neurons against independent implementations of Tang et al.'s definitions:
activation probabilities from the gate projection (act(x) > 0 exactly when x > 0 for SiLU and
GELU), LAPE and the selection in numpy, and the deactivation as zeroed columns of the down
projection with a plain perplexity loop."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignscope.analysis.llm_settings import NeuronsConfig
from alignscope.analysis.neurons.lape import LapeOptions, lape_entropy, select_neurons
from alignscope.analysis.neurons.run import run_neurons, split
from alignscope.data.parallel import load_parallel
from alignscope.errors import AlignscopeError, ConfigError

LANGUAGES = ("en", "fr", "de", "zh")


@pytest.fixture(scope="module")
def llama_run(lm_families: dict[str, Path], data_slices: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, NeuronsConfig]:
    out = tmp_path_factory.mktemp("neurons") / "llama"
    # A high top rate so that the tiny model (192 neurons) has neurons to silence.
    config = NeuronsConfig(model=str(lm_families["llama"]), languages=LANGUAGES, max_sentences=24,
                           ppl_sentences=8, top_rate=0.1, filter_rate=0.8, bar_ratio=0.8,
                           data_dir=str(data_slices), device="cpu")
    return out, run_neurons(config, out), config


def _texts(config: NeuronsConfig, data_slices: Path) -> tuple[dict, list[int], list[int]]:
    corpus = load_parallel("ud:pud", config.languages, data_slices)
    statistics_part, ppl_part = split(corpus, config)
    return corpus.texts, statistics_part, ppl_part


def test_activation_probabilities_match_the_gate_projection(llama_run, lm_families,
                                                            data_slices) -> None:
    out, result, config = llama_run
    model = AutoModelForCausalLM.from_pretrained(lm_families["llama"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(lm_families["llama"])
    texts, statistics_part, _ = _texts(config, data_slices)
    saved = load_file(str(out / "activation.safetensors"))
    assert saved["probability"].shape == (3, 64, len(LANGUAGES))
    gates: list[torch.Tensor] = []
    hooks = [layer.mlp.gate_proj.register_forward_hook(lambda m, i, o: gates.append(o))
             for layer in model.model.layers]
    for k, lang in enumerate(LANGUAGES):
        over = np.zeros((3, 64), dtype=np.int64)
        tokens = 0
        for index in statistics_part:  # one sentence at a time, no batching
            encoded = tokenizer(texts[lang][index], return_special_tokens_mask=True,
                                truncation=True, max_length=256)  # the model's positions
            content = ~torch.tensor(encoded["special_tokens_mask"], dtype=torch.bool)
            gates.clear()
            with torch.no_grad():
                model(input_ids=torch.tensor([encoded["input_ids"]]))
            for layer, gate in enumerate(gates):
                over[layer] += (gate[0][content] > 0).sum(0).numpy()
            tokens += int(content.sum())
        assert saved["tokens"][k] == tokens == result["tokens"][lang]
        np.testing.assert_array_equal(saved["over_zero"][..., k].numpy(), over)
        np.testing.assert_allclose(saved["probability"][..., k].numpy(), over / tokens, rtol=1e-6)
    for hook in hooks:
        hook.remove()
    assert result["activation_modules"] == [f"layers.{i}.mlp.act_fn" for i in range(3)]


def numpy_lape(probability: np.ndarray, options: LapeOptions) -> tuple[np.ndarray, np.ndarray]:
    """Tang et al. §2.2 written in numpy: entropy, and masks [languages, layers, neurons]."""
    layers, neurons, languages = probability.shape
    entropy = np.zeros((layers, neurons))
    for layer in range(layers):
        for neuron in range(neurons):
            p = probability[layer, neuron]
            if p.sum() > 0:
                q = p / p.sum()
                entropy[layer, neuron] = -sum(x * math.log(x) for x in q if x > 0)
    flat = np.sort(probability.ravel())

    def kth(rate: float) -> float:
        return flat[max(round(flat.size * rate), 1) - 1]

    candidate = (probability > kth(options.filter_rate)).any(-1)
    keys = [(entropy[i, n] if candidate[i, n] else math.inf, i, n)
            for i in range(layers) for n in range(neurons)]
    chosen = sorted(keys)[:round(layers * neurons * options.top_rate)]
    masks = np.zeros((languages, layers, neurons), dtype=bool)
    bar = kth(options.bar_ratio)
    for _, i, n in chosen:
        for k in range(languages):
            masks[k, i, n] = probability[i, n, k] > bar
    return entropy, masks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lape_selection_matches_the_paper(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probability = rng.beta(0.6, 2.0, size=(4, 50, 5))
    probability[1, :3, 2] = 0.99  # language 2's neurons: firing on its text only
    probability[1, :3, [0, 1, 3, 4]] = 0.01
    probability[2, 7] = 0.0  # a neuron that never fires
    for options in (LapeOptions(), LapeOptions(0.05, 0.9, 0.9)):
        entropy, masks = numpy_lape(probability, options)
        selection = select_neurons(torch.tensor(probability), options)
        np.testing.assert_allclose(selection.entropy.numpy(), entropy, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(selection.masks.numpy(), masks)
    assert selection.masks[2, 1, :3].all()  # the planted neurons belong to language 2


def test_entropy_is_zero_for_one_language_and_log_k_for_all() -> None:
    probability = torch.tensor([[[0.5, 0.0, 0.0], [0.2, 0.2, 0.2], [0.0, 0.0, 0.0]]])
    entropy = lape_entropy(probability)
    assert entropy[0].tolist() == pytest.approx([0.0, math.log(3), 0.0])


def _perplexity(model, tokenizer, texts: list[str]) -> float:
    total, count = 0.0, 0
    for text in texts:
        ids = torch.tensor([tokenizer(text, truncation=True, max_length=256)["input_ids"]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        total += float(torch.nn.functional.cross_entropy(logits[:-1].double(), ids[0, 1:],
                                                         reduction="sum"))
        count += ids.shape[1] - 1
    return math.exp(total / count)


def test_deactivation_matches_zeroed_down_projection_columns(llama_run, lm_families,
                                                             data_slices) -> None:
    out, result, config = llama_run
    texts, _, ppl_part = _texts(config, data_slices)
    tokenizer = AutoTokenizer.from_pretrained(lm_families["llama"])
    deactivation = result["deactivation"]
    assert deactivation["languages"] == list(LANGUAGES)
    model = AutoModelForCausalLM.from_pretrained(lm_families["llama"]).eval()
    base = {lang: _perplexity(model, tokenizer, [texts[lang][i] for i in ppl_part])
            for lang in LANGUAGES}
    assert deactivation["base"] == pytest.approx(base, rel=1e-5)
    silenced_any = False
    for k, source in enumerate(LANGUAGES):
        masks = json.loads((out / "masks" / f"{source}.json").read_text(encoding="utf-8"))
        assert list(masks) == ["block.0", "block.1", "block.2"]
        assert [len(v) for v in masks.values()] == result["counts"][source]
        model = AutoModelForCausalLM.from_pretrained(lm_families["llama"]).eval()
        with torch.no_grad():
            for layer, neurons in enumerate(masks.values()):
                model.model.layers[layer].mlp.down_proj.weight[:, neurons] = 0
        silenced_any |= any(masks.values())
        for j, target in enumerate(LANGUAGES):
            expected = _perplexity(model, tokenizer, [texts[target][i] for i in ppl_part])
            assert deactivation["selected_ppl"][k][j] == pytest.approx(expected, rel=1e-5)
            assert deactivation["selected"][k][j] == pytest.approx(
                deactivation["selected_ppl"][k][j] - deactivation["base"][target])
        assert sum(deactivation["random_ppl"][k]) > 0
    assert silenced_any


def test_random_control_silences_as_many_neurons_per_layer(llama_run) -> None:
    _, result, _ = llama_run
    random = result["deactivation"]["random"]
    assert len(random) == len(LANGUAGES) and all(len(row) == len(LANGUAGES) for row in random)
    for k, lang in enumerate(LANGUAGES):
        if sum(result["counts"][lang]) == 0:  # nothing silenced: nothing changes
            assert random[k] == pytest.approx([0.0] * len(LANGUAGES))


def test_result_validates(llama_run, check_result) -> None:
    out, result, _ = llama_run
    data = check_result(out / "neurons.json")
    assert data["counts"] == result["counts"] and data["neurons_per_layer"] == 64
    table = (out / "counts.csv").read_text(encoding="utf-8").splitlines()
    assert table[0] == "layer,en,fr,de,zh" and len(table) == 4


@pytest.mark.parametrize("family", ["gemma3", "gpt2", "bert"])
def test_other_families_activation_modules(family: str, lm_families, data_slices) -> None:
    config = NeuronsConfig(model=str(lm_families[family]), languages=("en", "fr"),
                           max_sentences=10, ppl_sentences=4, data_dir=str(data_slices),
                           device="cpu", top_rate=0.2, filter_rate=0.5, bar_ratio=0.5)
    result = run_neurons(config)
    expected = {"gemma3": "layers.0.mlp.act_fn", "gpt2": "h.0.mlp.act",
                "bert": "encoder.layer.0.intermediate.intermediate_act_fn"}[family]
    assert result["activation_modules"][0] == expected
    assert all(v > 0 for v in result["deactivation"]["base"].values())
    assert result["deactivation"]["scoring"].startswith(
        "masked" if family == "bert" else "next-token")


def test_bad_options_are_refused_before_loading(lm_families) -> None:
    with pytest.raises(ConfigError, match="at least two"):
        run_neurons(NeuronsConfig(model=str(lm_families["llama"]), languages=("en",)))
    with pytest.raises(AlignscopeError):
        NeuronsConfig(model="x", languages=("en", "fr"), top_rate=1.5)
