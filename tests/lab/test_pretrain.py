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
from alignscope.lab import options as options_module
from alignscope.lab import pretrain as pretrain_module
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.lexicon import LexiconSizes
from alignscope.lab.options import PretrainConfig
from alignscope.lab.pretrain import pretrain
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


def test_identity_is_what_shapes_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint resumes (and the demo reuses a model) only under the options that shape the
    model and the same training procedure; the value is pinned so a refactor keeps it."""
    base = PretrainConfig(corpus="lab/data")
    assert base.identity() == "c68661b63a9ec84b"
    assert PretrainConfig(corpus="lab/data", threads=2, device="cpu", save_every=7,
                          curve_points=3).identity() == base.identity()
    assert PretrainConfig(corpus="lab/data", steps=5).identity() != base.identity()
    assert PretrainConfig(corpus="lab/data", objective="clm").identity() != base.identity()
    monkeypatch.setattr(options_module, "RECIPE", 1)  # batches drawn with replacement
    assert base.identity() != "c68661b63a9ec84b"


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


def test_batches_cover_each_epoch_once_with_little_padding(corpus: Path) -> None:
    from alignscope.lab.batching import Batches
    from alignscope.lab.tokenizer import train_wordpiece

    lines = (corpus / "text" / "en.train.txt").read_text(encoding="utf-8").splitlines()
    tokenizer = train_wordpiece(lines, 300, 128)
    ids = [list(row) for row in tokenizer(lines)["input_ids"]]
    batches = Batches(ids, tokenizer, objective="mlm", batch_size=16, seed=3, mask_prob=0.15)
    for epoch in (0, 1):
        seen = sorted(i for batch in batches.epoch(epoch) for i in batch.tolist())
        assert seen == list(range(len(ids)))  # every sentence once per epoch
    assert [b.tolist() for b in batches.epoch(0)] != [b.tolist() for b in batches.epoch(1)]
    padded = real = 0
    for step in range(batches.per_epoch):
        inputs, attention, labels = batches.batch(step)
        padded += inputs.numel()
        real += inputs.numel() if attention is None else int(attention.sum())
        chosen = labels != -100
        assert chosen.any() and not torch.isin(labels[chosen], batches.specials).any()
    assert real / padded > 0.95  # a batch holds sentences of one length, rarely two
    again = Batches(ids, tokenizer, objective="mlm", batch_size=16, seed=3, mask_prob=0.15)
    assert all(torch.equal(a, b) for a, b in zip(batches.batch(5)[::2], again.batch(5)[::2],
                                                 strict=True))


def test_the_held_out_curve_and_convergence(corpus: Path, tmp_path: Path) -> None:
    result = pretrain(tiny(corpus, steps=20, curve_points=5), tmp_path / "m",
                      show_progress=False)
    assert [point["step"] for point in result["curve"]] == [4, 8, 12, 16, 20]
    assert result["heldout"] == result["curve"][-1]["heldout"]
    assert set(result["heldout"]) == {"en", "xx"}
    done = result["convergence"]
    assert (done["from_step"], done["to_step"]) == (16, 20)
    gains = {lang: round(100 * (result["curve"][-1]["heldout"][lang]["accuracy"]
                                - result["curve"][-2]["heldout"][lang]["accuracy"]), 2)
             for lang in ("en", "xx")}
    assert done["gain_points"] == gains
    assert result["train_tokens"] > 0 and result["tokens_per_second"] > 0


def test_convergence_is_judged_on_the_last_fifth() -> None:
    def curve(*accuracies: float) -> list[dict]:
        return [{"step": 10 * (i + 1), "heldout": {"en": {"accuracy": a}}}
                for i, a in enumerate(accuracies)]

    flat = pretrain_module.convergence(curve(0.1, 0.2, 0.25, 0.30, 0.305), ["en"], 50)
    assert flat["plateaued"] and flat["gain_points"] == {"en": 0.5}
    rising = pretrain_module.convergence(curve(0.1, 0.2, 0.25, 0.30, 0.32), ["en"], 50)
    assert not rising["plateaued"] and rising["from_step"] == 40
    assert pretrain_module.convergence(curve(0.1, 0.2), ["en"], 50) is None  # unfinished
    two = [{"step": 10 * (i + 1), "heldout": {"en": {"accuracy": a}, "xx": {"accuracy": b}}}
           for i, (a, b) in enumerate([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.30, 0.31),
                                       (0.315, 0.31)])]
    mean = pretrain_module.convergence(two, ["en", "xx"], 50)  # +1.5 and 0: mean +0.75
    assert mean["mean_gain_points"] == 0.75 and mean["plateaued"]


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_learning_rate_warms_up_then_decays_to_zero(schedule: str) -> None:
    """Linear warm-up over warmup_ratio of the steps, then the chosen decay: linear, or
    cosine (half the peak halfway through the decay, lower than linear in its last part)."""
    config = PretrainConfig(corpus="lab/data", steps=110, warmup_ratio=10 / 110,
                            schedule=schedule)
    factor = pretrain_module._schedule(config)
    assert [factor(step) for step in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert factor(10) == pytest.approx(1.0) and factor(110) == 0.0
    assert factor(60) == pytest.approx(0.5)  # halfway through the decay, both
    late = factor(90)  # 20 of the 100 decay steps left
    assert late == pytest.approx(0.2 if schedule == "linear"
                                 else 0.5 * (1 - math.cos(math.pi * 0.2)))
    assert PretrainConfig(corpus="lab/data", schedule="cosine").identity() != \
        PretrainConfig(corpus="lab/data").identity()
