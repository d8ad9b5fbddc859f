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

LlmExperiment = Callable[..., dict[str, Any]]  # also the tiny BERT experiment


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


MERGES = [{"name": "swap", "task": "pos", "groups": ["REF", "block.0-1"],
           "layers": ["", "block.0-1"]},
          {"name": "all-of-block.0-1", "task": "pos", "groups": ["REF", "block.0-1"],
           "layers": ["", "embeddings,block.0-3"], "base": 1}]


@pytest.mark.parametrize(("change", "message"), [
    ({"keep_checkpoints": False}, "key `merges.0`: a merge reads the fine-tuned runs' checkpoints"),
    ({"merges": [{**MERGES[0], "groups": ["REF", "block.2-3"]}]},
     "key `merges.0.groups.1`: block.2-3 is not a layer group this experiment runs"),
    ({"merges": [{**MERGES[0], "layers": ["block.0"]}]}, "--layers gives 1 groups for 2 runs"),
])
def test_bad_merges_name_the_key(experiment: LlmExperiment, change: dict[str, Any],
                                 message: str) -> None:
    with pytest.raises(ConfigError) as error:
        plan(load_spec(experiment(**{"seeds": [1], "merges": MERGES, "keep_checkpoints": True,
                                      **change})))
    assert message in str(error.value)


@pytest.mark.slow
def test_merges_in_a_sweep_are_evaluated_and_reported_as_groups(experiment: LlmExperiment,
                                                                tmp_path: Path) -> None:
    """A swap of two runs' layer groups evaluates; a swap taking every layer (and the head)
    from one run scores exactly that run; both are rows of the task's table."""
    from alignscope.experiments.sweep import run_sweep

    spec = experiment(seeds=[1], merges=MERGES, keep_checkpoints=True)
    runs = {run.name: run for run in plan(load_spec(spec))}
    assert runs["merge-swap-s1"].deps == ("pos-REF-s1", "pos-block.0-1-s1")
    out = tmp_path / "sweep"
    result = run_sweep(spec, out, progress=False)
    assert set(result.statuses.values()) == {"done"}, result.statuses

    def scores(name: str, kind: str) -> list[tuple[str, float]]:
        data = load_run(out / "runs" / name / kind, kind).data
        return [(e["dataset"], e["metrics"]["upos_accuracy"]) for e in data["evaluations"]]

    assert scores("merge-all-of-block.0-1-s1", "evaluate") == \
        scores("pos-block.0-1-s1", "finetune")
    swapped = scores("merge-swap-s1", "evaluate")
    assert [d for d, _ in swapped] == [d for d, _ in scores("pos-REF-s1", "finetune")]
    assert all(0 < value <= 1 for _, value in swapped)
    merged = load_run(out / "runs" / "merge-swap-s1" / "merge", "merge").data
    assert merged["layers"]["block.0"] == "block.0-1" and merged["layers"]["block.2"] == "REF"
    report = tmp_path / "report"
    outcome = CliRunner().invoke(app, ["report", str(out), "--out", str(report)])
    assert outcome.exit_code == 0, outcome.output
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert "| swap |" in markdown and "| all-of-block.0-1 |" in markdown
