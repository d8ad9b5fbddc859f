from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.data.conllu import read_conllu
from alignscope.encoding.words import WordAligner
from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError
from alignscope.training.config import FinetuneConfig
from alignscope.training.evaluate import evaluate
from alignscope.training.finetune import finetune


def tiny_config(model: Path, data: Path, **overrides: object) -> FinetuneConfig:
    options: dict = dict(model=str(model), train="ud:en_ewt", eval=["ud:fr_pud"],
                         data_dir=str(data), epochs=2, lr=2e-3, batch_size=16,
                         max_train_sentences=240, max_dev_sentences=80, seed=7, warmup_ratio=0.1)
    options.update(overrides)
    return FinetuneConfig(**options)


@pytest.fixture(scope="module")
def trained_run(tiny_bert: Path, data_slices: Path,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "pos"
    results = finetune(tiny_config(tiny_bert, data_slices, random_init="block.0-1"), out,
                       show_progress=False)
    return out, results


def test_results_cover_every_word_and_beat_majority(trained_run: tuple[Path, dict],
                                                    data_slices: Path, check_result) -> None:
    out, results = trained_run
    assert check_result(out / "results.json") == results
    assert (results["kind"], results["source_language"]) == ("finetune", "en")
    assert results["random_init"] == ["block.0", "block.1"]
    assert results["reinit"]["spec"] == "block.0-1"
    assert [e["dataset"] for e in results["evaluations"]] == ["ud:en_ewt:test", "ud:fr_pud:test"]
    for entry, relative in zip(results["evaluations"],
                               ["ud/UD_English-EWT/en_ewt-ud-test.conllu",
                                "ud/UD_French-PUD/fr_pud-ud-test.conllu"], strict=True):
        gold = read_conllu(data_slices / relative)
        assert entry["metrics"]["words"] == sum(len(s) for s in gold)
        majority = Counter(t for s in gold for t in s.upos).most_common(1)[0][1]
        assert entry["metrics"]["upos_accuracy"] > majority / entry["metrics"]["words"]
    assert results["config"]["random_init"] == "block.0-1"
    assert results["versions"]["torch"] == torch.__version__
    assert results["training"]["train_words_per_second"] > 0
    dev = read_conllu(data_slices / "ud/UD_English-EWT/en_ewt-ud-dev.conllu", limit=80)
    assert results["training"]["history"][0]["dev"]["words"] == sum(map(len, dev))


def test_random_init_tensors_are_listed(trained_run: tuple[Path, dict], tiny_bert: Path) -> None:
    _, results = trained_run
    names = [t["name"] for t in results["reinit"]["tensors"]]
    # every tensor of blocks 0 and 1, once: 16 each in BERT
    blocks = [n for n in load_file(tiny_bert / "model.safetensors")
              if n.startswith(("encoder.layer.0.", "encoder.layer.1."))]
    assert sorted(names) == sorted(blocks) and len(names) == 32
    assert any("LayerNorm" in n for n in names) and any("attention.self.query" in n for n in names)
    assert all({"mean", "std", "shape"} <= set(t) for t in results["reinit"]["tensors"])


def test_evaluate_reproduces_the_final_evaluation(trained_run: tuple[Path, dict],
                                                  data_slices: Path, check_result) -> None:
    out, results = trained_run
    again = evaluate(out, ["ud:fr_pud"], data_dir=str(data_slices), show_progress=False)
    assert again["evaluations"][0]["metrics"] == results["evaluations"][1]["metrics"]
    assert check_result(out / "evaluation.json") == again
    # The checkpoint says what run it is: a table labels this evaluation RANDOM-INIT.
    assert (again["kind"], again["source_language"]) == ("evaluate", "en")
    assert again["random_init"] == ["block.0", "block.1"]


def test_cpu_runs_are_bit_reproducible(tiny_bert: Path, data_slices: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A file reference has no sibling test split, so only training and dev selection run.
    train_file = str(data_slices / "ud/UD_English-EWT/en_ewt-ud-train.conllu")
    config = tiny_config(tiny_bert, data_slices, train=train_file, dev="ud:en_ewt", eval=[],
                         max_train_sentences=64, epochs=2, max_dev_sentences=16, random_init="block.2")
    encoded_sizes: list[int] = []
    encode = WordAligner.encode

    def counting(self: WordAligner, sentences: list, *args: object) -> object:
        encoded_sizes.append(len(sentences))
        return encode(self, sentences, *args)

    monkeypatch.setattr(WordAligner, "encode", counting)
    first = finetune(config, tmp_path / "a", show_progress=False)
    assert encoded_sizes == [64, 16]  # train once, dev once for both epochs
    assert len(first["training"]["history"]) == 2 and first["config"]["precision"] == "auto"
    second = finetune(config, tmp_path / "b", show_progress=False)
    assert first["evaluations"] == second["evaluations"] == []
    assert first["training"]["history"] == second["training"]["history"]
    for name in ("head.safetensors", "encoder/model.safetensors"):
        assert (tmp_path / "a/checkpoint" / name).read_bytes() == \
            (tmp_path / "b/checkpoint" / name).read_bytes()
    assert first["reinit"]["tensors"] == second["reinit"]["tensors"]
    assert first["random_init"] == ["block.2"]


def test_long_sentences_are_windowed_not_truncated(tiny_bert: Path, data_slices: Path,
                                                   tmp_path: Path) -> None:
    results = finetune(tiny_config(tiny_bert, data_slices, eval=[], max_length=24, epochs=1,
                                   max_train_sentences=32, max_dev_sentences=16),
                       tmp_path / "w", show_progress=False)
    [entry] = results["evaluations"]
    gold = read_conllu(data_slices / "ud/UD_English-EWT/en_ewt-ud-test.conllu")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    # [CLS] and [SEP] leave 22 of the 24 pieces to words, a word keeps at most 11 of its own:
    # every sentence over 22 pieces gets windows.
    pieces = [sum(min(len(tokenizer.tokenize(w)), 11) for w in s.words) for s in gold]
    assert entry["alignment"]["windowed_sentences"] == sum(n > 22 for n in pieces) > 50
    assert entry["metrics"]["words"] == sum(map(len, gold)) == 4267  # every word scored


@pytest.mark.parametrize(("overrides", "error", "needle"), [
    ({"task": "postag"}, AlignscopeError, "did you mean pos"),
    ({"eval": ["ud:fr_pudd"]}, UnknownNameError, "fr_pud"),
    ({"random_init": "block.3-5"}, ConfigError,
     "--random-init block.3-5: block.4-5 do not exist.*block.0-3"),
    ({"freeze": "block.0-9"}, ConfigError, "--freeze block.0-9: block.4-9 do not exist"),
    ({"random_init": "layer.3"}, ConfigError, "bad item 'layer.3'"),
    ({"train": "ud:fr_gsd"}, AlignscopeError, "no train split"),
])
def test_bad_input_fails_before_writing_anything(tiny_bert: Path, data_slices: Path, tmp_path: Path,
                                                 overrides: dict, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        finetune(tiny_config(tiny_bert, data_slices, **overrides), tmp_path / "out",
                 show_progress=False)
    assert not (tmp_path / "out").exists()


def test_existing_results_are_not_overwritten(trained_run: tuple[Path, dict], tiny_bert: Path,
                                              data_slices: Path) -> None:
    out, _ = trained_run
    with pytest.raises(AlignscopeError, match="already exists"):
        finetune(tiny_config(tiny_bert, data_slices), out, show_progress=False)


def test_cli_reports_user_errors_cleanly(tiny_bert: Path, data_slices: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "finetune", "--model", str(tiny_bert), "--task", "tagging", "--train", "ud:en_ewt",
        "--data-dir", str(data_slices), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "unknown task 'tagging'" in result.output


def test_cli_config_file_and_flags(tiny_bert: Path, data_slices: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"model: {tiny_bert}\ntrain: ud:en_ewt\nepochs: 1\nmax_train_sentences: 32\n"
                      f"max_dev_sentences: 16\ndata_dir: {data_slices}\nlr: 0.002\n")
    result = CliRunner().invoke(app, ["finetune", "--config", str(config), "--eval", "ud:de_gsd",
                                      "--seed", "3", "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "run/results.json").read_text())
    assert results["config"]["seed"] == 3 and results["config"]["epochs"] == 1
    assert [e["language"] for e in results["evaluations"]] == ["en", "de"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("modle: x\n")
    result = CliRunner().invoke(app, ["finetune", "--config", str(bad)])
    assert result.exit_code == 2 and "unknown option 'modle'; did you mean model" in result.output
