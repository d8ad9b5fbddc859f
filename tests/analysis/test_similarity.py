"""`run_similarity` end to end on real PUD sentences with the tiny model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from alignscope.analysis.similarity import SimilarityConfig, authors_windows, run_similarity
from alignscope.data.parallel import load_parallel
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError
from alignscope.models.encoder import load_encoder

LAYERS = ["embeddings", "block.0", "block.1", "block.2", "block.3"]


def config(tiny_bert: Path, parallel: str, **changes: object) -> SimilarityConfig:
    """40 PUD sentences, from the treebanks (ud:pud) or the same sentences as text files."""
    values: dict = {"model": str(tiny_bert), "targets": ("fr", "de"), "parallel": parallel,
                    "max_sentences": 40, "device": "cpu"}
    values.update(changes)
    return SimilarityConfig(**values)


def test_similarity_writes_curves_controls_tables_and_figures(tiny_bert: Path, data_slices: Path,
                                                              tmp_path: Path, check_result) -> None:
    out = tmp_path / "sim"
    result = run_similarity(config(tiny_bert, "ud:pud", data_dir=str(data_slices)), out)
    assert result["layers"] == LAYERS
    assert (result["kind"], result["source_language"], result["random_init"]) == \
        ("similarity", "en", [])
    assert result["conditions"] == ["parallel", "shuffled", "random-init"]
    assert result["measures"] == ["linear", "debiased", "rbf", "retrieval", "retrieval-forward",
                                  "retrieval-backward"]
    assert result["parallel"]["sentences"] == 40
    for key in ("linear", "rbf"):
        for condition in result["conditions"]:
            for values in result["results"][key][condition].values():
                assert len(values) == 5 and all(-1e-9 <= v <= 1 + 1e-9 for v in values)
    assert check_result(out / "similarity.json")["results"] == result["results"]
    with (out / "linear.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["layer", "fr", "de"] and [row[0] for row in rows[1:]] == LAYERS
    assert float(rows[3][1]) == pytest.approx(result["results"]["linear"]["parallel"]["fr"][2],
                                              abs=1e-6)
    for name in ("linear.shuffled.csv", "rbf.random-init.csv", "similarity-linear.png",
                 "similarity-linear.svg", "similarity-retrieval.png"):
        assert (out / name).is_file(), name


def test_second_run_reuses_cached_features_and_gives_the_same_values(
        tiny_bert: Path, pud_text: str) -> None:
    first = run_similarity(config(tiny_bert, pud_text, controls=("shuffled",)))
    second = run_similarity(config(tiny_bert, pud_text, controls=("shuffled",)))
    assert first["extraction"]["model"]["cache_hits"] == []
    assert second["extraction"]["model"]["cache_hits"] == ["en", "fr", "de"]
    assert second["results"] == first["results"]


def np_rbf_cka(x: np.ndarray, y: np.ndarray) -> float:
    """The released numpy procedure: median-bandwidth RBF, H K H with an explicit H."""
    def kernel(a: np.ndarray) -> np.ndarray:
        gram = a @ a.T
        distances = np.diag(gram) - gram + (np.diag(gram) - gram).T
        sigma = math.sqrt(np.median(distances[distances != 0]))
        return np.exp(distances * (-0.5 / sigma / sigma))

    h = np.eye(len(x)) - np.ones((len(x), len(x))) / len(x)

    def hsic(k: np.ndarray, l_: np.ndarray) -> float:
        return float(np.sum((h @ k @ h) * (h @ l_ @ h)))

    k, l_ = kernel(x), kernel(y)
    return hsic(k, l_) / math.sqrt(hsic(k, k) * hsic(l_, l_))


def test_authors_preset_matches_the_released_procedure(tiny_bert: Path,
                                                       pud_text: str) -> None:
    result = run_similarity(config(tiny_bert, pud_text, preset="authors", targets=("fr",),
                                   max_sentences=24, max_tokens=100, controls=()))
    assert result["measures"] == ["rbf"] and result["windows"] == [[0, 6], [1, 7], [2, 8],
                                                                   [3, 9]]
    corpus = load_parallel(pud_text, ["en", "fr"])
    encoder = load_encoder(tiny_bert)
    tokenizer = encoder.tokenizer

    def pooled(text: str) -> torch.Tensor:  # one sentence per forward, mean of [1:-1]
        ids = tokenizer.encode(f"{tokenizer.cls_token} {text} {tokenizer.sep_token}")
        if len(ids) >= 100:  # the script's cut at max_len = 100
            ids = ids[:99] + tokenizer.encode(tokenizer.sep_token)
        with torch.inference_mode():
            states = encoder.model(input_ids=torch.tensor([ids]),
                                   output_hidden_states=True).hidden_states
        return torch.stack([s[0, 1:-1].mean(0) for s in states])

    features = {lang: torch.stack([pooled(t) for t in corpus.texts[lang][:9]], 1).double().numpy()
                for lang in ("en", "fr")}
    for layer in range(5):
        expected = np.mean([np_rbf_cka(features["en"][layer, a:b], features["fr"][layer, a:b])
                            for a, b in authors_windows(24)])
        assert result["results"]["rbf"]["parallel"]["fr"][layer] == pytest.approx(expected,
                                                                                   abs=1e-5)


def test_centring_leaves_cka_unchanged(tiny_bert: Path, pud_text: str) -> None:
    plain = run_similarity(config(tiny_bert, pud_text, controls=()))
    centred = run_similarity(config(tiny_bert, pud_text, controls=(), centre=True))
    for key in ("linear", "debiased", "rbf"):
        for lang in ("fr", "de"):
            assert centred["results"][key]["parallel"][lang] == \
                pytest.approx(plain["results"][key]["parallel"][lang], abs=1e-6)


def test_length_partialling_applies_to_every_condition(tiny_bert: Path, pud_text: str) -> None:
    plain = run_similarity(config(tiny_bert, pud_text, measures=("linear",)))
    partial = run_similarity(config(tiny_bert, pud_text, measures=("linear",),
                                    partial_length=True))
    assert partial["config"]["partial_length"] is True
    for condition in ("parallel", "shuffled", "random-init"):
        assert partial["results"]["linear"][condition]["fr"] != \
            pytest.approx(plain["results"]["linear"][condition]["fr"], abs=1e-6)


def test_half_samples_and_layer_matrix_are_reported(tiny_bert: Path, pud_text: str,
                                                 tmp_path: Path) -> None:
    result = run_similarity(config(tiny_bert, pud_text, controls=("shuffled",), half_samples=8,
                                   layer_matrix=True, measures=("linear",)), tmp_path / "run")
    assert len(result["intervals"]["linear"]["fr"]) == 5
    matrix = result["layer_matrix"]["linear"]["de"]
    assert len(matrix) == 5 and len(matrix[0]) == 5
    assert matrix[2][2] == pytest.approx(result["results"]["linear"]["parallel"]["de"][2])
    assert (tmp_path / "run" / "matrix-linear-de.png").is_file()


def test_bad_requests_fail_before_writing(tiny_bert: Path, pud_text: str,
                                          tmp_path: Path) -> None:
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match="word pooling"):
        run_similarity(config(tiny_bert, pud_text, pooling="word"), out)
    with pytest.raises(DataFormatError, match=r"xx\.txt: file not found"):
        run_similarity(config(tiny_bert, pud_text, targets=("fr", "xx")), out)
    with pytest.raises(AlignscopeError, match="neither a model directory"):
        run_similarity(config(tmp_path, pud_text), out)
    with pytest.raises(ConfigError, match="also a target"):
        run_similarity(config(tiny_bert, pud_text, targets=("en",)), out)
    # unknown names fail when the options are built, naming the option and the choices
    with pytest.raises(ConfigError, match=r"--preset \(preset\): unknown preset 'paper'.*"
                                          r"available: authors"):
        config(tiny_bert, pud_text, preset="paper")
    with pytest.raises(ConfigError, match=r"--controls \(controls\): unknown control"):
        config(tiny_bert, pud_text, controls=("untrained",))
    with pytest.raises(ConfigError, match="authors' preset averages"):  # before extraction
        config(tmp_path / "no-model", pud_text, preset="authors", half_samples=5).resolved()
    assert not out.exists()
    out.mkdir()
    (out / "similarity.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match="--overwrite"):
        run_similarity(config(tiny_bert, pud_text), out)
