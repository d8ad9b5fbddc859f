"""`run_stability`: pretrained vs fine-tuned representations of the same sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.analysis.stability import StabilityConfig, run_stability
from alignscope.errors import ConfigError


def config(pretrained: Path, finetuned: Path, parallel: str, **changes: object) -> StabilityConfig:
    values: dict = {"pretrained": str(pretrained), "finetuned": str(finetuned),
                    "languages": ("en", "fr", "de"), "parallel": parallel, "device": "cpu"}
    values.update(changes)
    return StabilityConfig(**values)


def test_a_model_against_itself_is_perfectly_stable(tiny_bert: Path, pud_text: str) -> None:
    result = run_stability(config(tiny_bert, tiny_bert, pud_text, languages=("fr",),
                                  measures=("linear", "debiased", "rbf", "anc", "mexa", "margin")))
    for key in ("linear", "debiased", "rbf", "anc", "mexa", "margin"):
        assert result["results"][key]["paired"]["fr"] == pytest.approx([1.0] * 5, abs=1e-6)
        assert max(result["results"][key]["shuffled"]["fr"]) < 0.99
        assert result["layer_aggregates"][key]["paired"]["fr"]["max"] == pytest.approx(1.0)
    assert result["cross_lingual"]["results"] == {}  # one language: nothing to compare across


def test_only_the_perturbed_layers_move(tiny_bert: Path, tiny_bert_tuned: Path, pud_text: str,
                                        tmp_path: Path, check_result) -> None:
    out = tmp_path / "stability"
    result = run_stability(config(tiny_bert, tiny_bert_tuned, pud_text), out)
    assert result["model"]["source"].endswith("checkpoint/encoder")
    assert result["pretrained"]["name"] == str(tiny_bert)
    assert result["layers"] == ["embeddings", "block.0", "block.1", "block.2", "block.3"]
    for lang in ("en", "fr", "de"):
        linear = result["results"]["linear"]["paired"][lang]
        # hidden states 0-2 come before the perturbed blocks (encoder.layer.2 and .3)
        assert linear[:3] == pytest.approx([1.0] * 3, abs=1e-6)
        assert linear[3] < 0.99 and linear[4] < 0.99
    cross = result["cross_lingual"]["results"]["linear"]
    assert set(cross) == {"pretrained", "finetuned"} and set(cross["pretrained"]) == {"fr", "de"}
    assert cross["pretrained"]["fr"][:3] == pytest.approx(cross["finetuned"]["fr"][:3], abs=1e-6)
    assert check_result(out / "stability.json")["kind"] == "stability"
    for name in ("linear.csv", "linear.shuffled.csv", "cross-lingual-rbf.finetuned.csv",
                 "stability-linear.png", "stability-debiased.svg", "pre-post-linear.png"):
        assert (out / name).is_file(), name


def test_word_level_stability(tiny_bert: Path, tiny_bert_tuned: Path, pud_text: str) -> None:
    result = run_stability(config(tiny_bert, tiny_bert_tuned, pud_text, languages=("de",),
                                  pooling="word", measures=("linear", "retrieval"),
                                  half_samples=5))
    assert result["rows"]["de"] > 40  # one row per word
    assert result["results"]["linear"]["paired"]["de"][0] == pytest.approx(1.0, abs=1e-6)
    assert result["results"]["retrieval"]["paired"]["de"][0] > 0.5  # repeated words tie
    assert len(result["intervals"]["linear"]["de"]) == 5


def test_random_init_is_not_a_stability_control(tiny_bert: Path, pud_text: str) -> None:
    with pytest.raises(ConfigError, match="`stability` has no random-init control"):
        run_stability(config(tiny_bert, tiny_bert, pud_text, controls=("random-init",)))
