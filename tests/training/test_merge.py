"""Layer swapping and weight averaging of fine-tuned runs (Bandarkar et al. 2025). Slow: two
fine-tunes first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignscope.errors import ConfigError
from alignscope.training.config import FinetuneConfig, MergeConfig
from alignscope.training.evaluate import evaluate
from alignscope.training.finetune import finetune
from alignscope.training.merge import merge_runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tiny_bert: Path, data_slices: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two short POS fine-tunes of the tiny BERT that differ in seed and training data."""
    root = tmp_path_factory.mktemp("merge_runs")
    runs = []
    for seed, sentences in ((1, 120), (2, 160)):
        config = FinetuneConfig(model=str(tiny_bert), train="ud:en_ewt", eval=["ud:fr_pud"],
                                data_dir=str(data_slices), epochs=1, lr=2e-3, batch_size=16,
                                max_train_sentences=sentences, max_dev_sentences=40,
                                max_eval_sentences=60, seed=seed)
        finetune(config, root / f"run{seed}", show_progress=False)
        runs.append(root / f"run{seed}")
    return runs[0], runs[1]


def _scores(run: Path, data_slices: Path, out: Path) -> list[dict]:
    result = evaluate(run, ["ud:fr_pud", "ud:en_ewt"], out=out, data_dir=str(data_slices),
                      max_sentences=60, device="cpu", show_progress=False)
    return [e["metrics"] for e in result["evaluations"]]


def _tensors(run: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(run / "checkpoint" / "encoder" / "model.safetensors")),
            **{f"head.{k}": v for k, v in
               load_file(str(run / "checkpoint" / "head.safetensors")).items()}}


def test_a_swap_taking_everything_from_one_run_scores_exactly_that_run(
        two_runs, data_slices: Path, tmp_path: Path, check_result) -> None:
    first, second = two_runs
    merged = tmp_path / "all-from-second"
    result = merge_runs(MergeConfig(runs=[first, second],
                                    layers=["", "embeddings,block.0-3"], base=1), merged)
    assert check_result(merged / "merge.json") == json.loads(
        (merged / "merge.json").read_text(encoding="utf-8"))
    assert set(result["layers"].values()) == {"run2"}
    expected, got = _tensors(second), _tensors(merged)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    assert _scores(merged, data_slices, tmp_path / "m") == \
        _scores(second, data_slices, tmp_path / "s")
    average = merge_runs(MergeConfig(runs=[first, second], method="average",
                                     weights=[1.0, 0.0]), tmp_path / "avg")
    assert average["layers"]["block.0"] == {"run1": 1.0, "run2": 0.0}
    got = _tensors(tmp_path / "avg")
    assert all(torch.equal(_tensors(first)[name], got[name]) for name in got)


def test_a_swap_of_layer_groups_evaluates_and_records_provenance(
        two_runs, data_slices: Path, tmp_path: Path) -> None:
    first, second = two_runs
    merged = tmp_path / "swap"
    result = merge_runs(MergeConfig(runs=[first, second], layers=["block.0,block.3", ""],
                                    base=1, labels=["language", "task"]), merged)
    assert result["layers"] == {"embeddings": "task", "block.0": "language", "block.1": "task",
                                "block.2": "task", "block.3": "language", "other": "task",
                                "head": "task"}
    meta = json.loads((merged / "checkpoint" / "task.json").read_text(encoding="utf-8"))
    assert meta["merge"]["layers"] == result["layers"] and meta["task"] == "pos"
    tensors, a, b = _tensors(merged), _tensors(first), _tensors(second)
    for name, tensor in tensors.items():
        source = a if name.startswith(("encoder.layer.0.", "encoder.layer.3.")) else b
        assert torch.equal(tensor, source[name]), name
    scores = _scores(merged, data_slices, tmp_path / "e")
    assert all(0 < s["upos_accuracy"] <= 1 for s in scores)
    evaluation = json.loads((tmp_path / "e" / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation["source_language"] == "en"


def test_bad_merges_are_refused(two_runs, tmp_path: Path) -> None:
    first, second = two_runs
    with pytest.raises(ConfigError, match="two runs"):
        merge_runs(MergeConfig(runs=[first, second], layers=["block.0-1", "block.1"]),
                   tmp_path / "a")
    with pytest.raises(ConfigError, match="one group per run"):
        MergeConfig(runs=[first, second], layers=["block.0"]).check()
    with pytest.raises(ConfigError, match="sum to 1"):
        merge_runs(MergeConfig(runs=[first, second], method="average", weights=[0.5, 0.6]),
                   tmp_path / "b")
    with pytest.raises(ConfigError, match="does not exist"):
        merge_runs(MergeConfig(runs=[first, second], layers=["block.9", ""]), tmp_path / "c")
    assert not any(tmp_path.iterdir())
