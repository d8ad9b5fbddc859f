"""`alignscope lab generate` and `alignscope lab pretrain` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.models.encoder import load_encoder

runner = CliRunner()


def test_generate_then_pretrain(tmp_path: Path) -> None:
    data, model = tmp_path / "data", tmp_path / "model"
    result = runner.invoke(app, ["lab", "generate", "--sentences", "60", "--languages", "en,xx",
                                 "--transforms", "xx=vocab-shift:cyrillic", "--anchor-share",
                                 "xx=0.5", "--parallel-sentences", "5", "--out", str(data)])
    assert result.exit_code == 0, result.output
    assert "ud:xx_lab: vocab-shift:cyrillic" in result.output
    result = runner.invoke(app, ["lab", "pretrain", "--corpus", str(data), "--out", str(model),
                                 "--num-blocks", "1", "--hidden", "16", "--steps", "3",
                                 "--batch-size", "4", "--threads", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "xx: held-out MLM loss" in result.output
    assert load_encoder(model).num_blocks == 1


def test_bad_options_exit_2_with_the_fix(tmp_path: Path) -> None:
    for arguments, message in (
            (["--transforms", "xx"], "write LANG=VALUE"),
            (["--anchor-share", "lots"], "give a number"),
            (["--languages", "en,xx", "--transform", "xx=shift"], "unknown transformation"),
            (["--transform", "xx=shift"], "deprecated")):
        result = runner.invoke(app, ["lab", "generate", "--out", str(tmp_path / "d"), *arguments])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(app, ["lab", "pretrain", "--corpus", str(tmp_path), "--out",
                                 str(tmp_path / "m")])
    assert result.exit_code == 2 and "no pretraining text" in result.output
    assert not (tmp_path / "d").exists() and not (tmp_path / "m").exists()
