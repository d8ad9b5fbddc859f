"""The `similarity`, `stability` and `correlate` commands: thin wrappers, clean errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import alignscope.cli.analysis  # noqa: F401  (registers the commands)
from alignscope.cli import app
from alignscope.data.parallel import ParallelCorpus

runner = CliRunner()


def test_similarity_then_correlate(tiny_bert: Path, pud_text: str, tmp_path: Path,
                                   result_header: Callable[..., dict]) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, [
        "similarity", "--model", str(tiny_bert), "--parallel", pud_text, "--source", "en",
        "--targets", "fr,de", "--out", str(out), "--controls", "shuffled",
        "--measures", "linear,retrieval", "--device", "cpu", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "linear" in result.output and (out / "similarity.json").is_file()
    table = runner.invoke(app, ["table", str(out), "--layers", "embeddings,block.3", "--format",
                                "csv"])
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0] == "language,embeddings,block.3"
    assert [line.split(",")[0] for line in table.output.splitlines()[1:]] == ["fr", "de"]
    run = tmp_path / "runs" / "pos"
    run.mkdir(parents=True)
    (run / "evaluation.json").write_text(json.dumps(result_header(
        "evaluate", task="pos", metric="upos_accuracy", checkpoint=str(run),
        evaluations=[{"dataset": f"ud:{lang}_pud:test", "language": lang, "sentences": 9,
                      "metrics": {"upos_accuracy": score}}
                     for lang, score in (("fr", 0.9), ("de", 0.8))])), encoding="utf-8")
    refused = runner.invoke(app, ["correlate", "--similarity", str(out),
                                  "--transfer", str(run)])
    assert refused.exit_code == 2
    assert "needs at least 3" in refused.output and "Traceback" not in refused.output


def test_similarity_on_a_flores_style_folder_with_the_new_measures(
        tiny_bert: Path, pud_small: ParallelCorpus, tmp_path: Path) -> None:
    folder = tmp_path / "devtest"
    folder.mkdir()
    # The "French" file is the English one: every sentence must find its copy, while a random
    # tiny model finds a real translation only by chance (a few in 40).
    for lang, code in (("en", "eng_Latn"), ("en", "fra_Latn"), ("de", "deu_Latn")):
        (folder / f"{code}.devtest").write_text("\n".join(pud_small.texts[lang]) + "\n",
                                                encoding="utf-8")
    out = tmp_path / "sim"
    result = runner.invoke(app, [
        "similarity", "--model", str(tiny_bert), "--parallel", str(folder), "--source",
        "eng_Latn", "--targets", "fra_Latn,deu_Latn", "--out", str(out), "--controls",
        "shuffled", "--measures", "mexa,anc,margin,linear", "--margin-k", "3", "--device", "cpu",
        "--no-progress"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    assert saved["measures"] == ["mexa", "anc", "margin", "margin-forward", "margin-backward",
                                 "linear"]
    assert saved["parallel"]["files"]["fra_Latn"] == str(folder / "fra_Latn.devtest")
    parallel, shuffled = (saved["results"]["mexa"][c]["fra_Latn"] for c in ("parallel", "shuffled"))
    assert parallel == [1.0] * 5
    assert len(shuffled) == 5 and max(shuffled) <= 0.05  # mismatched pairs: chance hits at most
    summary = saved["layer_aggregates"]["anc"]["parallel"]["deu_Latn"]
    curve = saved["results"]["anc"]["parallel"]["deu_Latn"]
    assert summary["mean"] == pytest.approx(sum(curve) / len(curve))
    assert summary["max"] == max(curve) and curve[saved["layers"].index(summary["max_layer"])] \
        == summary["max"]
    rows = (out / "layer-aggregates.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "measure,condition,language,mean,max,max_layer" and len(rows) == 1 + 6 * 2 * 2
    assert (out / "mexa.shuffled.csv").is_file() and (out / "similarity-margin.png").is_file()
    missing = runner.invoke(app, [
        "similarity", "--model", str(tiny_bert), "--parallel", str(folder), "--source",
        "eng_Latn", "--targets", "zho_Hans", "--out", str(tmp_path / "other"), "--device", "cpu"])
    assert missing.exit_code == 2 and "deu_Latn, eng_Latn, fra_Latn" in missing.output


def test_stability_command(tiny_bert: Path, pud_text: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "stability", "--pretrained", str(tiny_bert), "--finetuned", str(tiny_bert),
        "--parallel", pud_text, "--languages", "en,fr", "--out", str(tmp_path / "st"),
        "--measures", "linear", "--device", "cpu", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "st" / "stability-linear.png").is_file()


def test_user_errors_exit_2_with_one_line(tiny_bert: Path, pud_text: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "similarity", "--model", str(tiny_bert), "--parallel", pud_text, "--targets", "fr",
        "--out", str(tmp_path / "x"), "--pooling", "word", "--no-progress"])
    assert result.exit_code == 2
    assert "error:" in result.output and "word pooling" in result.output
    assert not (tmp_path / "x").exists()


def test_a_config_file_sets_options_and_typed_flags_win(tiny_bert: Path, pud_text: str,
                                                         tmp_path: Path) -> None:
    config = tmp_path / "similarity.yaml"
    config.write_text(f"model: {tiny_bert}\nparallel: '{pud_text}'\ntargets: [fr, de]\n"
                      "measures: linear\ncontrols: none\nmax_sentences: 12\nseed: 3\n"
                      "device: cpu\n", encoding="utf-8")
    result = runner.invoke(app, ["similarity", "--config", str(config), "--out",
                                 str(tmp_path / "a"), "--seed", "5", "--no-progress"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "a" / "similarity.json").read_text(encoding="utf-8"))
    assert written["target_languages"] == ["fr", "de"] and written["measures"] == ["linear"]
    assert written["conditions"] == ["parallel"] and written["parallel"]["sentences"] == 12
    assert written["config"]["seed"] == 5  # typed on the command line: beats the file's 3


def test_bad_config_files_are_refused_before_any_work(tiny_bert: Path, tmp_path: Path) -> None:
    config = tmp_path / "stability.yaml"
    config.write_text(f"pretrained: {tiny_bert}\nfinetuned: {tiny_bert}\nlanguage: en,fr\n",
                      encoding="utf-8")
    result = runner.invoke(app, ["stability", "--config", str(config), "--out",
                                 str(tmp_path / "st"), "--no-progress"])
    assert result.exit_code == 2
    assert "unknown option 'language'; did you mean languages" in result.output
    missing = runner.invoke(app, ["similarity", "--out", str(tmp_path / "s"), "--targets", "fr"])
    assert missing.exit_code == 2 and "--model is required" in missing.output
    assert not (tmp_path / "st").exists() and not (tmp_path / "s").exists()


def test_half_samples_flag_and_its_old_name(tiny_bert: Path, pud_text: str, tmp_path: Path) -> None:
    """`--half-samples` says what it does; the old `--bootstrap` still works, unlisted, and
    says that it goes in 0.3."""
    assert "--half-samples" in runner.invoke(app, ["similarity", "--help"]).output
    assert "--bootstrap" not in runner.invoke(app, ["similarity", "--help"]).output
    for flag in ("--half-samples", "--bootstrap"):
        result = runner.invoke(app, [
            "similarity", "--model", str(tiny_bert), "--parallel", pud_text, "--targets", "fr",
            "--preset", "authors", flag, "5", "--out", str(tmp_path / "x"), "--no-progress"])
        assert result.exit_code == 2 and "--half-samples and --layer-matrix" in result.output
        assert ("--bootstrap) is deprecated and will be removed in alignscope 0.3; use "
                "`half_samples` (--half-samples)" in result.output) == (flag == "--bootstrap")
