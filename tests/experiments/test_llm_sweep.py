"""lens and neurons in experiment files: planned per pretrained model with the experiment's
languages, run by the sweep, and reported (latent-language table and curves, neuron counts,
the deactivation matrix beside its random control)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.errors import ConfigError
from alignscope.experiments.plan import plan
from alignscope.experiments.spec import load_spec
from alignscope.runs import load_run

LlmExperiment = Callable[..., dict[str, Any]]


def test_lens_and_neurons_are_planned_with_the_experiments_languages(
        llm_experiment: LlmExperiment, lm_families: dict[str, Path]) -> None:
    runs = {run.name: run for run in plan(load_spec(llm_experiment()))}
    assert set(runs) == {"lens", "neurons", "pos-REF-s1"}
    lens, neurons = runs["lens"].config, runs["neurons"].config
    assert list(lens["languages"]) == ["fr", "de"] and list(lens["latent"]) == ["en"]  # source
    assert list(neurons["languages"]) == ["en", "fr", "de"] and neurons["ppl_sentences"] == 4
    assert lens["model"] == neurons["model"] == str(lm_families["llama"])
    assert "device" not in lens and runs["lens"].kind == "lens"


@pytest.mark.parametrize(("analyses", "message"), [
    ({"lens": {"settings": {"lense": ["logit"]}}},
     "unknown key `analyses.lens.settings.lense`; did you mean lenses"),
    ({"lens": {"settings": {"tasks": ["cloz"]}}}, "unknown lens task 'cloz'"),
    ({"neurons": {"settings": {"languages": ["en", "fr"]}}},
     "key `analyses.neurons.settings.languages` is set by the sweep"),
])
def test_bad_lens_or_neurons_settings_name_the_key(llm_experiment: LlmExperiment,
                                                   analyses: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        plan(load_spec(llm_experiment(**analyses)))
    assert message in str(error.value)


@pytest.mark.slow
def test_a_sweep_runs_and_reports_the_lens_and_the_neurons(llm_experiment: LlmExperiment,
                                                           tmp_path: Path) -> None:
    experiment = tmp_path / "llm.yaml"
    experiment.write_text(json.dumps(llm_experiment()), encoding="utf-8")
    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", str(experiment), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lens = load_run(out / "runs" / "lens" / "lens", "lens").data
    neurons = load_run(out / "runs" / "neurons" / "neurons", "neurons").data
    assert lens["languages"] == ["fr", "de"] and neurons["languages"] == ["en", "fr", "de"]
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(out), "--out", str(report)])
    assert result.exit_code == 0, result.output
    markdown = (report / "report.md").read_text(encoding="utf-8")
    figures = {p.stem for p in (report / "figures").glob("*.png")}
    assert {"lens-lens-logit-translation", "lens-lens-logit-repetition",
            "neurons-neurons-counts", "neurons-deactivation"} <= figures
    assert all(f"figures/{stem}.png" in markdown for stem in figures)
    # The latent-language table: one row per task pair, the last layer's mean from the run.
    translation = lens["curves"]["logit"]["translation:fr-de"]
    row = next(line for line in markdown.splitlines() if line.startswith("| translation:fr-de"))
    assert f"| {translation['target.prob']['mean'][-1]:.3f} |" in row
    # The neuron counts per layer and the deactivation matrix with its random control.
    counts = next(line for line in markdown.splitlines() if line.startswith("| fr |"))
    assert counts.split("|")[-2].strip() == str(sum(neurons["counts"]["fr"]))
    deactivation = neurons["deactivation"]
    cell = f"{deactivation['selected'][0][1]:+.3g} / {deactivation['random'][0][1]:+.3g}"
    assert cell in markdown
    assert (report / "tables" / "neurons-deactivation.csv").is_file()
