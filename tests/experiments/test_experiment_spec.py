"""The experiment file is validated before any work, each error naming its key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.errors import ConfigError, Deprecated
from alignscope.experiments.keys import run_key
from alignscope.experiments.plan import layer_groups, plan
from alignscope.experiments.spec import load_spec

Experiment = Callable[..., dict[str, Any]]


def flat(text: str) -> str:
    """Rich wraps long lines."""
    return " ".join(text.split())


def planned(experiment: dict[str, Any], overrides: list[str] | None = None) -> list[Any]:
    return plan(load_spec(experiment, overrides))


@pytest.mark.parametrize(("change", "message"), [
    ({"finetune": {"lrr": 1e-3}}, "unknown key `finetune.lrr`; did you mean lr?"),
    ({"random_init": {"windw": 2}}, "unknown key `random_init.windw`; did you mean window?"),
    ({"seeds": "one"}, "key `seeds`: Input should be a valid list"),
    ({"finetune": {"epochs": "many"}}, "key `finetune.epochs`: Input should be a valid integer"),
    ({"random_init": {"groups": ["block.4"]}},
     "key `random_init.groups.0`: block.4 does not exist: the model has 4 blocks"),
    ({"random_init": {"groups": ["layer4"]}}, "bad item 'layer4'"),
    ({"tasks": {"pos": {"source": "ud:en_ewt", "targets": ["ud:xx_pud"]}}},
     "key `tasks.pos.targets.0`: unknown UD treebank"),
    ({"tasks": {"postag": {"source": "ud:en_ewt", "targets": ["ud:fr_pud"]}}},
     "unknown key `tasks.postag`; did you mean pos?"),
    ({"finetune": {"seed": 3}}, "key `finetune.seed` is set by the sweep"),
    ({"analyses": {"similarity": {"settings": {"measure": ["linear"]}}}},
     "unknown key `analyses.similarity.settings.measure`; did you mean measures"),
    ({"analyses": {"similarity": {"settings": {"preset": "nope"}}}},
     "key `analyses.similarity.settings.preset`: unknown preset 'nope'"),
    ({"analyses": {"languages": ["fr", "xx"], "similarity": {}}},
     "key `analyses.parallel` (ud:pud)"),
    ({"analyses": {"correlation": {}}}, "needs `analyses.similarity.pretrained: true`"),
    ({"analyses": {"settings": {"half_samples": 4, "bootstrap": 4}, "similarity": {}}},
     "key `analyses.similarity.settings`: `bootstrap` (--bootstrap) is the old name of "
     "`half_samples`"),
    ({"analyses": {"similarity": {"settings": {"half_sample": 4}}}},
     "unknown key `analyses.similarity.settings.half_sample`; did you mean half_samples"),
])
def test_bad_experiments_name_the_key(experiment: Experiment, change: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(ConfigError) as error:
        planned(experiment(**change))
    assert message in str(error.value)


def test_plan_expands_groups_seeds_and_analyses(experiment: Experiment) -> None:
    runs = planned(experiment(analyses={
        "languages": ["fr", "de", "ru"], "settings": {"max_sentences": 20},
        "similarity": {"pretrained": True, "finetuned": True}, "stability": {"groups": ["REF"]},
        "correlation": {"groups": ["REF"]}}))
    names = [run.name for run in runs]
    assert names == ["similarity-pretrained", "pos-REF-s1", "correlation-pos-REF-s1",
                     "pos-REF-s2", "correlation-pos-REF-s2", "pos-block.0-1-s1",
                     "pos-block.0-1-s2"]
    by_name = {run.name: run for run in runs}
    assert by_name["pos-block.0-1-s2"].config["finetune"]["random_init"] == "block.0-1"
    assert by_name["pos-block.0-1-s2"].config["finetune"]["seed"] == 2
    assert "stability" in by_name["pos-REF-s1"].config
    assert "stability" not in by_name["pos-block.0-1-s1"].config
    assert by_name["correlation-pos-REF-s1"].deps == ("similarity-pretrained", "pos-REF-s1")
    # the pretrained similarity and the stability runs extract the same sentences
    assert by_name["similarity-pretrained"].config["max_sentences"] == \
        by_name["pos-REF-s1"].config["stability"]["max_sentences"] == 20
    assert len({run.key for run in runs}) == len(runs)


def test_window_covers_every_block(experiment: Experiment) -> None:
    spec = load_spec(experiment(random_init={"reference": True, "window": 2,
                                             "groups": ["block.0-1", "embeddings"]}))
    assert layer_groups(spec, 4) == ["REF", "block.0-1", "block.2-3", "embeddings"]
    assert layer_groups(spec, 5) == ["REF", "block.0-1", "block.2-3", "block.4", "embeddings"]


def test_half_samples_is_the_key_bootstrap_its_old_name(experiment: Experiment) -> None:
    def similarity_runs(settings: dict[str, Any], own: dict[str, Any]) -> list[Any]:
        analyses = {"languages": ["fr", "de"], "settings": {"max_sentences": 20, **settings},
                    "similarity": {"pretrained": True, "finetuned": True, "settings": own}}
        return [run for run in planned(experiment(analyses=analyses))
                if run.kind == "similarity"]

    shared, own = similarity_runs({"half_samples": 8}, {}), similarity_runs({}, {"half_samples": 8})
    with pytest.warns(Deprecated, match="`bootstrap` .* removed in alignscope 0.3"):
        old = similarity_runs({"bootstrap": 8}, {})
    assert shared[0].config["half_samples"] == 8 == own[0].config["half_samples"]
    assert [r.key for r in shared] == [r.key for r in own] == [r.key for r in old]
    assert shared[0].key != similarity_runs({}, {})[0].key


def test_keys_follow_the_configuration_not_the_runtime(experiment: Experiment) -> None:
    base = {run.name: run.key for run in planned(experiment())}
    assert base == {run.name: run.key for run in planned(experiment(threads=2, device="cpu"))}
    changed = {run.name: run.key for run in planned(experiment(), ["finetune.epochs=2"])}
    assert all(changed[name] != key for name, key in base.items())
    assert run_key("finetune", {"a": 1, "b": 2}) == run_key("finetune", {"b": 2, "a": 1})


def test_overrides_and_environment(experiment: Experiment, tiny_bert: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINY_MODEL", str(tiny_bert))
    spec = load_spec(experiment(model="${TINY_MODEL}", name="${UNSET_NAME:-fallback}"),
                     ["seeds=[4, 5, 6]", "finetune.epochs=3", "analyses.settings.seed=2"])
    assert spec.models == [str(tiny_bert)] and spec.name == "fallback"
    assert spec.seeds == [4, 5, 6] and spec.finetune["epochs"] == 3
    assert spec.analyses.settings == {"seed": 2}
    with pytest.raises(ConfigError, match="key `model`: environment variable NOPE_X is not set"):
        load_spec(experiment(model="${NOPE_X}"))
    with pytest.raises(ConfigError, match="--set 'seeds': write KEY=VALUE"):
        load_spec(experiment(), ["seeds"])


def test_cli_dry_run_lists_runs_and_refuses_bad_files(experiment: Experiment,
                                                      tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment()), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(config), "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "pos-block.0-1-s2" in result.output and "to run: 4" in result.output
    assert not out.exists()  # a dry run writes nothing
    result = CliRunner().invoke(app, ["sweep", "run", str(config), "--out", str(out),
                                      "--dry-run", "--set", "finetune.bogus=1"])
    assert result.exit_code == 2 and "unknown key `finetune.bogus`" in flat(result.output)
    result = CliRunner().invoke(app, ["sweep", "status", str(out)])
    assert result.exit_code == 2 and "out: no such folder" in flat(result.output)
    result = CliRunner().invoke(app, ["sweep", "status", str(tmp_path)])
    assert result.exit_code == 2 and "is not a sweep folder (no manifest.json)" in flat(
        result.output)


@pytest.mark.parametrize("config", sorted(Path(__file__).parents[2].glob("configs/*/*.yaml")),
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_shipped_configs_follow_the_schema(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNSCOPE_E5_DIR", "/models/e5-small")
    spec = load_spec(config)
    assert len(spec.seeds) >= (3 if config.parent.name == "paper" else 2)


def test_models_are_named_readably(experiment: Experiment, tiny_bert: Path) -> None:
    """Tables and the report name a model by its folder's name, or the name given; the path
    stays in the labels for provenance; two models may not share a name."""
    runs = planned(experiment())
    assert {run.labels["model"] for run in runs} == {tiny_bert.name}
    assert {run.labels["model_path"] for run in runs} == {str(tiny_bert)}
    named = planned(experiment(model={"path": str(tiny_bert), "name": "tiny"}))
    assert {run.labels["model"] for run in named} == {"tiny"}
    assert [run.key for run in named] == [run.key for run in runs]  # a name changes no result
    two = {key: value for key, value in experiment().items() if key != "model"}
    with pytest.raises(ConfigError, match="two models are named"):
        planned({**two, "models": [str(tiny_bert), {"path": "elsewhere/model",
                                                    "name": tiny_bert.name}]})
    with pytest.raises(ConfigError, match="given twice"):  # one model, whatever its names
        planned({**two, "models": [str(tiny_bert), {"path": str(tiny_bert), "name": "b"}]})
