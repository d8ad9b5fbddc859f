"""Resumable fine-tuning: a run killed with SIGKILL at any point and continued with `--resume`
gives the results and the final checkpoint of the run that was never interrupted, bit for bit
(CPU, one thread). The kills are real: a child process running `alignscope finetune` sends
itself SIGKILL at a chosen point (after a checkpoint, inside a checkpoint write, between the
two renames of a checkpoint swap, after an epoch end, during the final evaluation)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from alignscope import train_state
from alignscope.cli import app
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.training.config import FinetuneConfig
from alignscope.training.finetune import STATE_DIR, finetune

# 10 batches of 8 per epoch, 4 epochs: 40 steps; checkpoints at steps 5, 10 (epoch end), 15, ...
STEPS, EVERY = 40, 5


def options(model: Path, data: Path) -> list[str]:
    return ["--model", str(model), "--train", "ud:en_ewt", "--eval", "ud:fr_pud",
            "--data-dir", str(data), "--epochs", "4", "--batch-size", "8", "--lr", "2e-3",
            "--max-train-sentences", "80", "--max-dev-sentences", "8",
            "--max-eval-sentences", "8", "--random-init", "block.1", "--revert", "block.0",
            "--seed", "3", "--threads", "1", "--no-progress"]


def run_cli(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["finetune", *args])
    assert result.exit_code == 0, result.output


# Each point: Python run in the child before the CLI, arming one SIGKILL (see `killed_cli`).
KILLS = {
    "before the first checkpoint": """
arm(Loop, "_step", lambda calls, *a: calls == 3)""",
    "mid-epoch after a checkpoint": """
arm(Loop, "_step", lambda calls, *a: calls == 18)""",
    # the 4th checkpoint's weights and optimizer are written, its generator states not yet
    "inside a checkpoint write": """
count(train_state, "save")
arm(train_state, "save_file", lambda calls, *a: CALLS["save"] == 4)""",
    # the 4th checkpoint's folder is ready, the 3rd moved aside to .resume.old, not yet replaced
    "between the renames of a checkpoint swap": """
count(train_state, "save")
real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith("/resume") and ".resume." in os.path.basename(str(src)) \\
            and CALLS["save"] == 4:
        kill()
    real_replace(src, dst)
os.replace = replace""",
    "after an epoch end": """
real_save = train_state.save
def save(directory, **k):
    real_save(directory, **k)
    if k["progress"]["step"] == 20 and k["progress"]["position"] == 0:
        kill()
train_state.save = save""",
    "during the final evaluation": """
arm(Predictor, "evaluate", lambda calls, *a: calls == 1)""",
}

def stable(results: dict[str, Any]) -> dict[str, Any]:
    """Results without what differs between any two runs (wall-clock times, the date, memory)
    and the runtime options that say how this one went (resumed, checkpointed)."""
    results = json.loads(json.dumps(results))
    for key in ("created", "resources"):
        results.pop(key)
    for key in ("train_seconds", "train_words_per_second", "resumed_at_steps"):
        results["training"].pop(key)
    for key in ("resume", "checkpoint_every"):
        results["config"].pop(key)
    for entry in [*results["evaluations"],
                  *(e for group in results["revert"] for e in group["evaluations"])]:
        entry.pop("seconds")
    return results


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(tiny_bert: Path, data_slices: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    run_cli([*options(tiny_bert, data_slices), "--checkpoint-every", str(EVERY),
             "--out", str(out)])
    return out


def test_checkpoints_change_nothing_and_are_removed_at_the_end(
        uninterrupted: Path, tiny_bert: Path, data_slices: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    run_cli([*options(tiny_bert, data_slices), "--out", str(plain)])
    whole = json.loads((uninterrupted / "results.json").read_text())
    assert whole["training"]["steps"] == STEPS and whole["training"]["resumed_at_steps"] == []
    assert stable(json.loads((plain / "results.json").read_text())) == stable(whole)
    assert files(plain / "checkpoint") == files(uninterrupted / "checkpoint")
    assert sorted(p.name for p in uninterrupted.iterdir()) == ["checkpoint", "results.json"]


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILLS))
def test_killed_anywhere_then_resumed_is_the_uninterrupted_run(
        point: str, uninterrupted: Path, tiny_bert: Path, data_slices: Path,
        tmp_path: Path, killed_cli: Callable[[str, list[str]], int]) -> None:
    out = tmp_path / "run"
    args = [*options(tiny_bert, data_slices), "--checkpoint-every", str(EVERY), "--out", str(out)]
    assert killed_cli(KILLS[point], ["finetune", *args]) == -9
    assert not (out / "results.json").exists()
    if point == "between the renames of a checkpoint swap":
        assert (out / ".resume.old" / train_state.STATE_FILE).is_file()
        assert not (out / STATE_DIR).exists()
    step = {"before the first checkpoint": None, "mid-epoch after a checkpoint": 15,
            "inside a checkpoint write": 15, "between the renames of a checkpoint swap": 15,
            "after an epoch end": 20, "during the final evaluation": 40}[point]
    if step is not None:  # without --resume the interrupted run is neither resumed nor replaced
        result = CliRunner().invoke(app, ["finetune", *args])
        assert result.exit_code == 2 and "pass --resume" in result.output

    run_cli([*args, "--resume"])
    resumed = json.loads((out / "results.json").read_text())
    assert resumed["training"]["resumed_at_steps"] == ([] if step is None else [step])
    assert stable(resumed) == stable(json.loads((uninterrupted / "results.json").read_text()))
    assert files(out / "checkpoint") == files(uninterrupted / "checkpoint")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint", "results.json"]


def test_a_changed_configuration_is_refused_naming_the_keys(tiny_bert: Path, data_slices: Path,
                                                           tmp_path: Path) -> None:
    base = {"model": str(tiny_bert), "train": "ud:en_ewt", "eval": [], "data_dir": str(data_slices),
            "epochs": 2, "batch_size": 8, "max_train_sentences": 16, "max_dev_sentences": 4,
            "max_eval_sentences": 4, "threads": 1}
    out = tmp_path / "run"

    def stop_after_first_epoch(*args: Any, **kwargs: Any) -> None:
        real_save(*args, **kwargs)
        raise KeyboardInterrupt

    real_save = train_state.save
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_state, "save", stop_after_first_epoch)
        with pytest.raises(KeyboardInterrupt):
            finetune(FinetuneConfig(**base), out, show_progress=False)
    with pytest.raises(ConfigError, match=r"another configuration \(epochs: 2 then, 3 now; "
                                          r"lr: 2e-05 then, 0.001 now\)"):
        finetune(FinetuneConfig(**{**base, "epochs": 3}, lr=1e-3, resume=True), out,
                 show_progress=False)
    # Runtime keys may change: threads, device, checkpoint_every.
    results = finetune(FinetuneConfig(**{**base, "threads": 2}, checkpoint_every=1,
                                      device="cpu", resume=True), out, show_progress=False)
    assert results["training"]["resumed_at_steps"] == [2]
    torch.set_num_threads(1)


def test_overwrite_starts_an_interrupted_run_again(tiny_bert: Path, data_slices: Path,
                                                  tmp_path: Path) -> None:
    config = FinetuneConfig(model=str(tiny_bert), train="ud:en_ewt", eval=[],
                            data_dir=str(data_slices), epochs=1, batch_size=8,
                            max_train_sentences=16, max_dev_sentences=4, max_eval_sentences=4,
                            threads=1, checkpoint_every=1)
    out = tmp_path / "run"
    calls = {"n": 0}
    real_save = train_state.save

    def stop_at_second(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_save(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_state, "save", stop_at_second)
        with pytest.raises(KeyboardInterrupt):
            finetune(config, out, show_progress=False)
    assert train_state.exists(out / STATE_DIR)
    with pytest.raises(AlignscopeError, match="interrupted fine-tuning run"):
        finetune(config, out, show_progress=False)
    results = finetune(config, out, overwrite=True, show_progress=False)
    assert results["training"]["resumed_at_steps"] == []
    assert not (out / STATE_DIR).exists()
