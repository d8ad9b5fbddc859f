"""Fine-tuning decoder LLMs end to end (tiny Llama and GPT-2, real UD sentences), with the
post-hoc ablations: frozen layers stay bit-identical, reverted groups are scored on exactly
the pretrained layers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.data.conllu import read_conllu
from alignscope.encoding.words import aligner_for
from alignscope.models.encoder import load_encoder
from alignscope.training.config import FinetuneConfig
from alignscope.training.evaluate import evaluate
from alignscope.training.finetune import finetune

EVAL_SENTENCES = 24
OPTIONS = {"train": "ud:en_ewt", "eval": ["ud:fr_pud"], "epochs": 1, "lr": 3e-3,
           "batch_size": 16, "max_train_sentences": 64, "max_dev_sentences": 16,
           "max_eval_sentences": EVAL_SENTENCES, "seed": 3, "threads": 1}


@pytest.fixture(scope="module")
def llama_run(families: dict[str, Path], data_slices: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("llama") / "run"
    config = FinetuneConfig(model=str(families["llama"]), data_dir=str(data_slices),
                            freeze="block.0", revert=["block.1", "block.2,embeddings"], **OPTIONS)
    return out, finetune(config, out, show_progress=False)


def test_a_decoder_finetunes_and_scores_every_word(llama_run: tuple[Path, dict],
                                                   data_slices: Path,
                                                   check_result: Callable[[Path], dict]) -> None:
    out, results = llama_run
    assert check_result(out / "results.json") == results  # schema 2, freeze and revert included
    assert results["random_init"] == []  # a REF run, however many layers it froze or reverted
    assert results["model"]["class"] == "LlamaModel" and results["training"]["steps"] == 4
    for entry, relative in zip(results["evaluations"],
                               ["ud/UD_English-EWT/en_ewt-ud-test.conllu",
                                "ud/UD_French-PUD/fr_pud-ud-test.conllu"], strict=True):
        gold = read_conllu(data_slices / relative, limit=EVAL_SENTENCES)
        assert entry["metrics"]["words"] == sum(len(s) for s in gold)


def test_frozen_layers_are_bit_identical_after_training(llama_run: tuple[Path, dict],
                                                        families: dict[str, Path]) -> None:
    out, results = llama_run
    pretrained = load_file(families["llama"] / "model.safetensors")
    tuned = load_file(out / "checkpoint/encoder/model.safetensors")
    frozen = {t["name"] for t in results["freeze"]["tensors"]}
    assert results["freeze"]["layers"] == "block.0" and len(frozen) == 9  # 7 linears, 2 norms
    assert all(name.startswith("layers.0.") for name in frozen)
    for name in pretrained:
        assert torch.equal(pretrained[name], tuned[name]) == (name in frozen), name


def test_reverted_groups_are_scored_on_the_pretrained_layers(
        llama_run: tuple[Path, dict], families: dict[str, Path], data_slices: Path,
        tmp_path: Path) -> None:
    out, results = llama_run
    assert [group["layers"] for group in results["revert"]] == ["block.1", "embeddings,block.2"]
    pretrained = load_file(families["llama"] / "model.safetensors")
    for group in results["revert"]:
        names = [t["name"] for t in group["tensors"]]
        assert all(t["change"] > 0 for t in group["tensors"])
        assert [e["dataset"] for e in group["evaluations"]] == \
            [e["dataset"] for e in results["evaluations"]]
        # The same scores come from a checkpoint whose group was reset by hand.
        copy = tmp_path / group["layers"]
        shutil.copytree(out / "checkpoint", copy)
        weights = copy / "encoder/model.safetensors"
        save_file({**load_file(weights), **{n: pretrained[n] for n in names}}, str(weights))
        again = evaluate(copy, ["ud:fr_pud"], data_dir=str(data_slices),
                         max_sentences=EVAL_SENTENCES, show_progress=False)
        assert again["evaluations"][0]["metrics"] == group["evaluations"][1]["metrics"]
    assert group["evaluations"][1]["metrics"] != results["evaluations"][1]["metrics"]
    assert "embed_tokens.weight" in names  # the last group includes the embeddings


def test_causal_models_read_a_word_at_its_last_subword(families: dict[str, Path]) -> None:
    words = ["Unquestionably", "international", "cooperation", "works", "."]
    for family, last in (("llama", True), ("gpt2", True), ("bert", False)):
        encoder = load_encoder(families[family])
        [encoded], _ = aligner_for(encoder, 64).encode([words])
        whole = encoder.tokenizer(words, is_split_into_words=True)
        assert list(encoded.windows[0]) == whole.input_ids
        positions = [[i for i, w in enumerate(whole.word_ids()) if w == word]
                     for word in range(len(words))]
        assert max(map(len, positions)) > 1  # the test needs multi-piece words
        expected = [p[-1] if last else p[0] for p in positions]
        assert list(encoded.word_position) == expected, family


def test_cli_random_init_freeze_and_revert_on_gpt2_in_bf16(families: dict[str, Path], data_slices: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "gpt2"
    options = ["--train", "ud:en_ewt", "--eval", "ud:fr_pud", "--data-dir", str(data_slices),
               "--epochs", "1", "--batch-size", "16", "--max-train-sentences", "32",
               "--max-dev-sentences", "8", "--max-eval-sentences", "8", "--threads", "1",
               "--no-progress"]
    result = CliRunner().invoke(app, [
        "finetune", "--model", str(families["gpt2"]), "--out", str(out), *options,
        "--random-init", "block.1", "--scope", "attention", "--freeze", "block.2", "--revert",
        "block.0;block.1-2", "--dtype", "bfloat16"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["random_init"] == ["block.1"] and results["reinit"]["spec"] == "block.1"
    assert {t["name"].rsplit(".", 1)[0] for t in results["reinit"]["tensors"]} \
        == {"h.1.attn.c_attn", "h.1.attn.c_proj"}
    assert all(t["name"].startswith("h.2.attn.") for t in results["freeze"]["tensors"])
    assert [g["layers"] for g in results["revert"]] == ["block.0", "block.1-2"]
    assert all(".attn." in t["name"] for g in results["revert"] for t in g["tensors"])
    weights = load_file(out / "checkpoint/encoder/model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.bfloat16}

    bad = CliRunner().invoke(app, ["finetune", "--model", str(families["gpt2"]),
                                   "--out", str(tmp_path / "bad"), *options, "--revert", "block.0;block.5"])
    assert bad.exit_code == 2 and "block.5 does not exist" in bad.output
    assert not (tmp_path / "bad").exists()
