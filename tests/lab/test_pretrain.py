"""MLM pretraining from scratch: the loss falls, the output is a model every command loads,
an interrupted run resumes into exactly the uninterrupted one."""

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
from alignscope.lab.generate import GenerateConfig, generate, language_specs
from alignscope.lab.lexicon import LexiconSizes
from alignscope.lab.pretrain import PretrainConfig, pretrain
from alignscope.models.encoder import load_encoder

SIZES = LexiconSizes(nouns=40, verbs=20, adjectives=10, adverbs=5, names=5, topics=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "data"
    generate(GenerateConfig(language_specs(["en", "xx"], {"xx": "vocab-shift"}, 0.1),
                            sentences=400, eval_sentences=40, parallel_sentences=10,
                            sizes=SIZES), out)
    return out


def tiny(corpus: Path, **fields) -> PretrainConfig:
    return PretrainConfig(**{"corpus": str(corpus), "vocab_size": 300, "layers": 2, "hidden": 32,
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


def test_interrupted_run_resumes_into_the_same_model(corpus: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny(corpus)
    pretrain(config, tmp_path / "whole", show_progress=False)

    calls = {"n": 0}
    real_loss = pretrain_module._mlm_loss

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 26:
            raise KeyboardInterrupt  # killed between the checkpoints at steps 20 and 30
        return real_loss(*args)

    monkeypatch.setattr(pretrain_module, "_mlm_loss", failing)
    with pytest.raises(KeyboardInterrupt):
        pretrain(config, tmp_path / "cut", show_progress=False)
    assert json.loads((tmp_path / "cut" / "resume" / "state.json").read_text())["step"] == 20
    assert not (tmp_path / "cut" / "config.json").exists()  # no half-trained model to load
    monkeypatch.setattr(pretrain_module, "_mlm_loss", real_loss)
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
    ({"steps": 0}, "--steps must be at least 1"),
])
def test_bad_options_fail_before_training(corpus: Path, tmp_path: Path, fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        pretrain(dataclasses.replace(tiny(corpus), **fields), tmp_path / "m", show_progress=False)
    assert not (tmp_path / "m").exists()
