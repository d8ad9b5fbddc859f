"""`run_correlation`: per-layer Spearman and Pearson between similarity and transfer scores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from scipy import stats

from alignscope.analysis.correlation import CorrelationConfig, default_out, run_correlation
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError, UnknownNameError

SIMILARITY = {"fr": [0.2, 0.8, 0.6], "de": [0.3, 0.7, 0.5], "ru": [0.1, 0.5, 0.4],
              "zh": [0.4, 0.3, None], "hi": [0.2, 0.2, 0.1]}
SCORES = {"en": 0.97, "fr": 0.88, "de": 0.86, "ru": 0.80, "zh": 0.55, "hi": 0.60}


LAYERS = ["embeddings", "block.0", "block.1"]


@pytest.fixture
def write_similarity(result_header: Callable[..., dict]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        result = result_header(
            "similarity", layers=LAYERS, target_languages=list(SIMILARITY),
            measures=["linear", "rbf"], conditions=["parallel", "shuffled"],
            results={"linear": {"parallel": SIMILARITY,
                                "shuffled": {k: [0.01, 0.02, 0.03] for k in SIMILARITY}},
                     "rbf": {"parallel": SIMILARITY}})
        (folder / "similarity.json").write_text(json.dumps(result), encoding="utf-8")
        return folder

    return write


@pytest.fixture
def write_results(result_header: Callable[..., dict]) -> Callable[..., Path]:
    def write(folder: Path, scores: dict[str, float] = SCORES, **extra: object) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        results = result_header(
            "finetune", task="pos", metric="upos_accuracy", training={}, random_init=["block.0"],
            reinit={"spec": "block.0", "regex": None, "scope": "all", "scheme": "model",
                    "seed": 1, "tensors": []},
            evaluations=[{"dataset": f"ud:{lang}_pud:test", "language": lang, "split": "test",
                          "sentences": 1000, "metrics": {"upos_accuracy": score}}
                         for lang, score in scores.items()])
        path = folder / "results.json"
        path.write_text(json.dumps({**results, **extra}), encoding="utf-8")
        return path

    return write


def test_correlations_per_layer_equal_scipy(tmp_path: Path, write_similarity: Callable,
                                            write_results: Callable, check_result: Callable) -> None:
    similarity = write_similarity(tmp_path / "sim")
    transfer = write_results(tmp_path / "runs" / "pos-s1")
    config = CorrelationConfig(similarity=str(similarity), transfer=str(transfer))
    out = default_out(config)
    assert out == tmp_path / "sim-vs-pos-s1"  # beside the similarity run, not inside it
    result = run_correlation(config, out)
    assert check_result(out / "correlation.json") == result
    assert (result["random_init"], result["model"]["name"]) == (["block.0"], "tiny")
    assert [entry["layer"] for entry in result["per_layer"]] == LAYERS
    assert result["languages"] == ["fr", "de", "ru", "zh", "hi"]  # the source is left out
    assert result["measure"] == "linear" and result["metric"] == "upos_accuracy"
    languages = result["languages"]
    for layer in (0, 1):
        x = [SIMILARITY[lang][layer] for lang in languages]
        y = [SCORES[lang] for lang in languages]
        entry = result["per_layer"][layer]
        assert entry["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
        assert entry["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
        assert entry["pearson_p"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    assert result["per_layer"][2]["languages"] == 4  # zh has no value at layer 2
    for name in ("correlation.json", "correlation.csv", "correlation.png", "correlation.svg"):
        assert (out / name).is_file()


def test_run_folder_and_condition_choice(tmp_path: Path, write_similarity: Callable,
                                         write_results: Callable) -> None:
    similarity = write_similarity(tmp_path / "sim")
    write_results(tmp_path / "run")
    result = run_correlation(CorrelationConfig(similarity=str(similarity / "similarity.json"),
                                               transfer=str(tmp_path / "run"), measure="linear",
                                               condition="shuffled"))
    assert result["per_layer"][0]["spearman"] is None  # a constant control: undefined


def test_bad_inputs_are_named(tmp_path: Path, write_similarity: Callable,
                              write_results: Callable) -> None:
    similarity = str(write_similarity(tmp_path / "sim"))
    with pytest.raises(AlignscopeError, match="needs at least 3"):
        run_correlation(CorrelationConfig(similarity=similarity, transfer=str(write_results(
            tmp_path / "few", {"en": 0.9, "fr": 0.8, "xx": 0.1}))))
    with pytest.raises(UnknownNameError, match="'cca'"):
        run_correlation(CorrelationConfig(similarity=similarity,
                                          transfer=str(write_results(tmp_path / "a")),
                                          measure="cca"))
    with pytest.raises(ConfigError, match="source language is de"):
        run_correlation(CorrelationConfig(similarity=similarity, transfer=str(write_results(
            tmp_path / "b", source_language="de"))))
    duplicated = write_results(tmp_path / "c")
    data = json.loads(duplicated.read_text(encoding="utf-8"))
    data["evaluations"].append({"dataset": "ud:fr_gsd:test", "language": "fr", "sentences": 9,
                                "metrics": {"upos_accuracy": 0.9}})
    duplicated.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AlignscopeError, match="--dataset"):
        run_correlation(CorrelationConfig(similarity=similarity, transfer=str(duplicated)))
    assert run_correlation(CorrelationConfig(similarity=similarity, transfer=str(duplicated),
                                             dataset="_pud"))
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.json:1: not valid JSON"):
        run_correlation(CorrelationConfig(similarity=similarity, transfer=str(tmp_path / "bad.json")))
    with pytest.raises(DataFormatError, match="is a finetune result; expected a similarity"):
        run_correlation(CorrelationConfig(similarity=str(duplicated), transfer=str(duplicated)))
