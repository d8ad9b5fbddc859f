"""Pretraining from scratch, masked LM (a BERT) and causal LM (a Llama-style decoder): the loss
falls, the output is a model every command loads, an interrupted run resumes into exactly the
uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignscope.errors import AlignscopeError, ConfigError
from alignscope.lab import pretrain as pretrain_module
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.lexicon import LexiconSizes
from alignscope.lab.pretrain import PretrainConfig, pretrain
from alignscope.models.encoder import load_encoder

SIZES = LexiconSizes(nouns=40, verbs=20, adjectives=10, adverbs=5, names=5, topics=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "data"
    generate(GenerateConfig(languages=["en", "xx"], transforms={"xx": "vocab-shift"},
                            anchor_share=0.1, sentences=400, eval_sentences=40,
                            parallel_sentences=10, sizes=SIZES), out)
    return out


def tiny(corpus: Path, **fields) -> PretrainConfig:
    return PretrainConfig(**{"corpus": str(corpus), "vocab_size": 300, "num_blocks": 2, "hidden": 32,
                             "steps": 40, "batch_size": 16, "log_every": 10, "save_every": 10,
                             "threads": 1, "device": "cpu", **fields})


def test_mlm_loss_falls_and_the_model_loads_everywhere(corpus: Path, tmp_path: Path) -> None:
    result = pretrain(tiny(corpus, steps=300, log_every=50, lr=5e-3), tmp_path / "m",
                      show_progress=False)
    losses = [entry["loss"] for entry in json.loads((tmp_path / "m" / "loss.json").read_text())]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3
    assert (tmp_path / "m" / "loss.png").stat().st_size > 0
    # held-out text of both languages is predicted far better than by a uniform guess
    uniform = math.log(result["vocab_size"])
    assert all(scores["loss"] < uniform - 0.5 for scores in result["heldout"].values())
    encoder = load_encoder(tmp_path / "m")  # what `--model` does: safetensors + fast tokenizer
    assert encoder.num_blocks == 2 and encoder.hidden_size == 32
    assert encoder.tokenizer("ne tap .")["input_ids"][0] == encoder.tokenizer.cls_token_id


@pytest.mark.parametrize("objective", ["mlm", "clm"])
def test_interrupted_run_resumes_into_the_same_model(corpus: Path, tmp_path: Path, objective: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny(corpus, objective=objective)
    pretrain(config, tmp_path / "whole", show_progress=False)

    calls = {"n": 0}
    real_loss = pretrain_module._loss

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 26:
            raise KeyboardInterrupt  # killed between the checkpoints at steps 20 and 30
        return real_loss(*args)

    monkeypatch.setattr(pretrain_module, "_loss", failing)
    with pytest.raises(KeyboardInterrupt):
        pretrain(config, tmp_path / "cut", show_progress=False)
    state = json.loads((tmp_path / "cut" / "resume" / "state.json").read_text())
    assert state["progress"]["step"] == 20
    assert not (tmp_path / "cut" / "config.json").exists()  # no half-trained model to load
    monkeypatch.setattr(pretrain_module, "_loss", real_loss)
    pretrain(config, tmp_path / "cut", show_progress=False)

    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)
    assert (json.loads((tmp_path / "whole" / "loss.json").read_text())
            == json.loads((tmp_path / "cut" / "loss.json").read_text()))


def test_resume_with_other_options_is_refused(corpus: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrain_module, "_export", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny(corpus, steps=10), tmp_path / "m", show_progress=False)
    with pytest.raises(AlignscopeError, match="another configuration"):
        pretrain(tiny(corpus, steps=10, hidden=64), tmp_path / "m", show_progress=False)


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def test_source_only_control_shares_the_tokenizer(corpus: Path, tmp_path: Path) -> None:
    pretrain(tiny(corpus, steps=5), tmp_path / "multi", show_progress=False)
    result = pretrain(tiny(corpus, steps=5, languages=("en",), tokenizer=str(tmp_path / "multi")),
                      tmp_path / "control", show_progress=False)
    assert result["languages"] == ["en"] and set(result["heldout"]) == {"en", "xx"}
    assert ((tmp_path / "multi" / "tokenizer.json").read_text()
            == (tmp_path / "control" / "tokenizer.json").read_text())
    with pytest.raises(AlignscopeError, match="already holds a pretrained model"):
        pretrain(tiny(corpus, steps=5), tmp_path / "multi", show_progress=False)


@pytest.mark.parametrize(("fields", "message"), [
    ({"languages": ("fr",)}, "not in the corpus"),
    ({"hidden": 30, "heads": 4}, "not divisible"),
    ({"steps": 0}, "--steps .*greater than or equal to 1"),
    ({"objective": "gpt"}, "--objective .*'mlm' or 'clm'"),
    ({"kv_heads": 1}, "--kv-heads applies to --objective clm only"),
    ({"objective": "clm", "heads": 4, "kv_heads": 3}, "--kv-heads 3 must divide --heads 4"),
    ({"objective": "clm", "tokenizer": "BERT"}, "clm pretraining needs .*bos_token"),
])
def test_bad_options_fail_before_training(corpus: Path, tmp_path: Path, fields, message) -> None:
    if fields.get("tokenizer") == "BERT":  # a masked-LM model's tokenizer: no BOS, no EOS
        pretrain(tiny(corpus, steps=1), tmp_path / "bert", show_progress=False)
        fields = {**fields, "tokenizer": str(tmp_path / "bert")}
    with pytest.raises(ConfigError, match=message):
        pretrain(dataclasses.replace(tiny(corpus), **fields), tmp_path / "m", show_progress=False)
    assert not (tmp_path / "m").exists()


def test_identity_of_masked_lm_runs_is_kept() -> None:
    """The identity computed before `--objective` existed: a demo folder pretrained then
    is still recognised as finished, not pretrained again."""
    assert PretrainConfig(corpus="lab/data").identity() == "1d6ffff05b673c03"
    assert PretrainConfig(corpus="lab/data", languages="en", steps=5).identity() \
        == "50f3dd252e106a0f"
    assert PretrainConfig(corpus="lab/data", objective="clm").identity() != "1d6ffff05b673c03"


def test_clm_loss_falls_and_the_decoder_loads_as_a_causal_model(corpus: Path,
                                                                tmp_path: Path) -> None:
    result = pretrain(tiny(corpus, objective="clm", steps=200, log_every=50, lr=5e-3,
                           kv_heads=1), tmp_path / "m", show_progress=False)
    assert result["objective"] == "clm" and result["config"]["kv_heads"] == 1
    losses = [entry["loss"] for entry in json.loads((tmp_path / "m" / "loss.json").read_text())]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.5
    # every next token of held-out text is predicted far better than by a uniform guess
    uniform = math.log(result["vocab_size"])
    for scores in result["heldout"].values():
        assert scores["loss"] < uniform - 1.0
        assert scores["perplexity"] == pytest.approx(math.exp(scores["loss"]), rel=1e-3)

    encoder = load_encoder(tmp_path / "m")  # what `--model` does
    assert encoder.is_causal and type(encoder.model).__name__ == "LlamaModel"
    config = encoder.model.config
    assert (config.num_key_value_heads, config.intermediate_size, config.hidden_act) \
        == (1, 96, "silu")  # grouped-query attention, a SwiGLU 8/3 x 32 rounded up to 32
    tokenizer = encoder.tokenizer
    ids = tokenizer("ne tap .")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids
    assert tokenizer.pad_token_id not in (tokenizer.bos_token_id, tokenizer.eos_token_id)
    batch = tokenizer(["ne tap .", "ne"], padding=True, return_tensors="pt")
    with torch.no_grad():
        states = encoder.model(**batch, output_hidden_states=True).hidden_states
    assert len(states) == 3 and states[-1].shape == (2, len(ids), 32)

    # clm/ holds the whole LM, whose decoder is the saved model, tied to its embeddings
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(tmp_path / "m" / "clm")
    assert type(lm).__name__ == "LlamaForCausalLM"
    assert lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr()
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert all(torch.equal(tensor, lm.model.state_dict()[name]) for name, tensor in saved.items())


@pytest.mark.parametrize("ablation", [["--random-init", "block.0"], ["--revert", "block.0"]])
def test_finetune_runs_on_the_pretrained_decoder(corpus: Path, tmp_path: Path,
                                                 ablation: list[str]) -> None:
    from typer.testing import CliRunner

    from alignscope.cli import app

    pretrain(tiny(corpus, objective="clm", steps=5), tmp_path / "m", show_progress=False)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "finetune", "--model", str(tmp_path / "m"), "--task", "pos", "--train", "ud:en_lab",
        "--eval", "ud:xx_lab", "--data-dir", str(corpus), "--epochs", "1", "--batch-size", "8",
        "--max-train-sentences", "16", "--max-dev-sentences", "8", "--max-eval-sentences", "8",
        "--threads", "1", "--device", "cpu", "--no-progress", "--out", str(out), *ablation])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["class"] == "LlamaModel"
    block_0 = {name for name in load_file(str(tmp_path / "m" / "model.safetensors"))
               if name.startswith("layers.0.")}
    assert [e["dataset"] for e in results["evaluations"]] == ["ud:en_lab:test", "ud:xx_lab:test"]
    assert all(0 <= e["metrics"]["upos_accuracy"] <= 1 for e in results["evaluations"])
    if ablation[0] == "--random-init":
        assert results["random_init"] == ["block.0"]
        names = {t["name"] for t in results["reinit"]["tensors"]}
        assert names == block_0
    else:
        [group] = results["revert"]
        assert group["layers"] == "block.0"
        assert {t["name"] for t in group["tensors"]} == block_0
        assert [e["dataset"] for e in group["evaluations"]] == ["ud:en_lab:test", "ud:xx_lab:test"]
