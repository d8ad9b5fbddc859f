"""An experiment expanded into runs, each checked against the model and the data first.

Three kinds of run, each in its own folder under `OUT/runs/`:
  similarity   the pretrained model's cross-lingual similarity (one per model);
  finetune     one task x layer group x seed: fine-tuning, then the analyses of the fine-tuned
               model (similarity, stability) while its checkpoint exists;
  correlation  a fine-tuned run's zero-shot scores against the pretrained similarity.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignscope.analysis.settings import SimilarityConfig, StabilityConfig
from alignscope.config import OptionsError, option_names
from alignscope.data.parallel import load_parallel
from alignscope.data.registry import parse_ref, resolve, ud_treebanks
from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError, did_you_mean
from alignscope.experiments.keys import run_key, without_runtime
from alignscope.experiments.spec import REFERENCE, ExperimentSpec, TaskSpec, describe
from alignscope.layer_names import LayerSelection, parse_layers
from alignscope.tasks import TASKS
from alignscope.training.config import FinetuneConfig

# Set by the sweep for every run, not by the `finetune:` section.
MANAGED_FINETUNE = frozenset({"model", "train", "eval", "task", "dev", "data_dir", "seed",
                              "random_init", "task_options", "device", "threads"})
MANAGED_ANALYSIS = frozenset({"model", "pretrained", "finetuned", "targets", "source", "languages",
                              "parallel", "data_dir", "device"})
FINETUNED = "<this run's fine-tuned model>"


@dataclass(frozen=True)
class RunSpec:
    name: str  # the run's folder under OUT/runs/
    kind: str  # similarity | finetune | correlation
    config: dict[str, Any]  # resolved; what the key hashes
    labels: dict[str, Any]  # task, model, group, seed: for tables
    runtime: dict[str, Any] = field(default_factory=dict)  # device, threads: not hashed
    deps: tuple[str, ...] = ()  # names of the runs this one reads

    @property
    def key(self) -> str:
        return run_key(self.kind, self.config)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "key": self.key, "config": self.config,
                "labels": self.labels, "runtime": self.runtime, "deps": list(self.deps)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(data["name"], data["kind"], data["config"], data["labels"], data["runtime"],
                   tuple(data["deps"]))


def model_depth(model: str) -> int:
    """Number of transformer blocks, from the model's config alone (no weights)."""
    from transformers import AutoConfig

    from alignscope.models import gguf
    from alignscope.models.encoder import resolve_model_source
    from alignscope.models.layers import configured_depth

    if gguf.is_gguf(model):
        return gguf.block_count(Path(resolve_model_source(model)))
    try:
        config = AutoConfig.from_pretrained(resolve_model_source(model))
    except (OSError, ValueError) as error:
        raise ConfigError(f"key `models`: cannot read the configuration of {model!r} "
                          f"({str(error).splitlines()[0]})") from None
    depth = configured_depth(config)
    if depth is None:
        raise ConfigError(f"key `models`: {model!r} does not say how many layers it has")
    return depth


def layer_groups(spec: ExperimentSpec, depth: int) -> list[str]:
    """REF (if asked), the window's consecutive groups, then the explicit ones, in order."""
    groups = [REFERENCE] if spec.random_init.reference else []
    window = spec.random_init.window
    if window:
        groups += [str(LayerSelection(tuple(range(start, min(start + window, depth)))))
                   for start in range(0, depth, window)]
    for index, group in enumerate(spec.random_init.groups):
        try:
            label = str(parse_layers(group, depth))  # canonical: `block.0-1`
        except ConfigError as error:
            raise ConfigError(f"key `random_init.groups.{index}`: {error}") from None
        if label not in groups:
            groups.append(label)
    if not groups:
        raise ConfigError("key `random_init`: no run to do", "set reference: true, a window or "
                          "groups")
    return groups


def _validated(config_class: type, options: dict[str, Any], key: str) -> Any:
    """`config_class` from YAML values; an error names the key under `key`."""
    try:
        return config_class(**options)
    except OptionsError as error:
        raise ConfigError(describe(error.validation, prefix=key)) from None
    except AlignscopeError as error:  # a check of the class itself (a combination of options)
        raise ConfigError(f"key `{key}`: {error}") from None


def _check_keys(options: dict[str, Any], config_class: type, managed: frozenset[str],
                key: str) -> None:
    fields = option_names(config_class)
    for name in options:
        if name in managed:
            raise ConfigError(f"key `{key}.{name}` is set by the sweep for every run", "remove it")
        if name not in fields:
            raise ConfigError(describe_unknown(f"{key}.{name}", name, fields - managed))


def describe_unknown(key: str, name: str, known: set[str]) -> str:
    return f"unknown key `{key}`" + (did_you_mean(name, known)
                                     or f"; known: {', '.join(sorted(known))}")


def _language(reference: str, role: str, data_dir: str | None, key: str) -> str:
    try:
        return resolve(parse_ref(reference), role, data_dir).language  # type: ignore[arg-type]
    except AlignscopeError as error:
        raise ConfigError(f"key `{key}`: {error}") from None


@dataclass
class _Languages:
    source: str
    targets: list[str]


def _task_languages(name: str, task: TaskSpec, data_dir: str | None) -> _Languages:
    source = _language(task.source, "train", data_dir, f"tasks.{name}.source")
    if parse_ref(task.source).scheme != "file":
        _language(task.source, "dev", data_dir, f"tasks.{name}.source")
    if task.dev:
        _language(task.dev, "dev", data_dir, f"tasks.{name}.dev")
    targets = [_language(target, "eval", data_dir, f"tasks.{name}.targets.{i}")
               for i, target in enumerate(task.targets)]
    return _Languages(source, targets)


def _analysis_settings(spec: ExperimentSpec, own: dict[str, Any], config_class: type,
                       key: str) -> dict[str, Any]:
    known = option_names(config_class)
    shared = {k: v for k, v in spec.analyses.settings.items() if k in known}
    _check_keys(own, config_class, MANAGED_ANALYSIS, f"{key}.settings")
    return {**shared, **own}


def plan(spec: ExperimentSpec) -> list[RunSpec]:
    """Every run of the experiment, dependencies before the runs that read them."""
    for name in spec.tasks:
        if name not in TASKS:
            raise ConfigError(describe_unknown(f"tasks.{name}", name, set(TASKS)))
    _check_keys(spec.finetune, FinetuneConfig, MANAGED_FINETUNE, "finetune")
    _check_shared(spec)
    languages = {name: _task_languages(name, task, spec.data_dir)
                 for name, task in spec.tasks.items()}
    runtime = {"device": spec.device, "threads": spec.threads}
    runs: list[RunSpec] = []
    analysis = _AnalysisPlan.build(spec, languages)
    multi = len(spec.models) > 1
    for model in spec.models:
        depth = model_depth(model)
        groups = layer_groups(spec, depth)
        suffix = f"-{_slug(model)}" if multi else ""
        similarity_name = None
        if analysis.similarity is not None and analysis.similarity_pretrained:
            similarity_name = f"similarity{suffix}" if multi else "similarity-pretrained"
            config = analysis.similarity_config(model)
            runs.append(RunSpec(similarity_name, "similarity", config,
                                {"model": model, "group": "pretrained"}, runtime))
        for task_name, task in spec.tasks.items():
            for group in groups:
                for seed in spec.seeds:
                    name = f"{task_name}-{group}-s{seed}{suffix}"
                    config = _finetune_config(spec, model, task_name, task, group, seed)
                    analyses_of_run = analysis.of_finetuned(model, group)
                    labels = {"task": task_name, "model": model, "group": group, "seed": seed,
                              "source_language": languages[task_name].source}
                    runs.append(RunSpec(name, "finetune",
                                        {"finetune": config, **analyses_of_run},
                                        labels, runtime))
                    if similarity_name and analysis.correlates(group):
                        runs.append(RunSpec(
                            f"correlation-{name}", "correlation",
                            {"measure": analysis.correlation_measure,
                             "similarity": _by_name(runs, similarity_name).key,
                             "transfer": _by_name(runs, name).key},
                            labels, {}, (similarity_name, name)))
    return runs


def _by_name(runs: list[RunSpec], name: str) -> RunSpec:
    return next(run for run in runs if run.name == name)


def _check_shared(spec: ExperimentSpec) -> None:
    known = option_names(SimilarityConfig) | option_names(StabilityConfig)
    for name in spec.analyses.settings:
        if name in MANAGED_ANALYSIS:
            raise ConfigError(f"key `analyses.settings.{name}` is set by the sweep", "remove it")
        if name not in known:
            raise ConfigError(describe_unknown(f"analyses.settings.{name}", name,
                                               known - MANAGED_ANALYSIS))


def _finetune_config(spec: ExperimentSpec, model: str, task_name: str, task: TaskSpec,
                     group: str, seed: int) -> dict[str, Any]:
    options = {**spec.finetune, "model": model, "train": task.source, "eval": list(task.targets),
               "task": task_name, "dev": task.dev, "data_dir": _absolute(spec.data_dir),
               "seed": seed, "task_options": dict(task.options),
               "random_init": None if group == REFERENCE else group}  # canonical: block.0-1
    config: FinetuneConfig = _validated(FinetuneConfig, options, "finetune")
    return without_runtime(config.to_dict())


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model.rstrip("/")).name or model)


@dataclass
class _AnalysisPlan:
    spec: ExperimentSpec
    source: str
    targets: tuple[str, ...]
    similarity: dict[str, Any] | None
    similarity_pretrained: bool
    similarity_finetuned: bool
    stability: dict[str, Any] | None
    stability_groups: list[str] | None
    correlation_groups: list[str]
    correlation_measure: str | None

    @classmethod
    def build(cls, spec: ExperimentSpec, languages: dict[str, _Languages]) -> _AnalysisPlan:
        analyses = spec.analyses
        sources = {lang.source for lang in languages.values()}
        wanted = analyses.similarity or analyses.stability or analyses.correlation
        if wanted and len(sources) > 1:
            raise ConfigError(f"key `analyses`: the tasks have different source languages "
                              f"({', '.join(sorted(sources))}); analyses compare one source "
                              "against the targets -- split the experiment per source")
        source = next(iter(sources))
        targets = tuple(analyses.languages or dict.fromkeys(
            lang for task in languages.values() for lang in task.targets if lang != source))
        if wanted:
            _check_parallel(spec, (source, *targets))
        similarity = stability = None
        if analyses.similarity:
            similarity = _analysis_settings(spec, analyses.similarity.settings, SimilarityConfig,
                                            "analyses.similarity")
        if analyses.stability:
            stability = _analysis_settings(spec, analyses.stability.settings, StabilityConfig,
                                           "analyses.stability")
        correlation = analyses.correlation
        if correlation and not (analyses.similarity and analyses.similarity.pretrained):
            raise ConfigError("key `analyses.correlation` needs `analyses.similarity.pretrained:"
                              " true` (it correlates the pretrained model's similarity)")
        plan = cls(spec, source, targets, similarity,
                   bool(analyses.similarity and analyses.similarity.pretrained),
                   bool(analyses.similarity and analyses.similarity.finetuned),
                   stability, None if not analyses.stability or analyses.stability.groups == "all"
                   else list(analyses.stability.groups),
                   list(correlation.groups) if correlation else [],
                   correlation.measure if correlation else None)
        plan.check(spec.models[0])
        return plan

    def _common(self) -> dict[str, Any]:
        return {"parallel": self.spec.analyses.parallel, "data_dir": _absolute(self.spec.data_dir),
                "device": self.spec.device}

    def similarity_config(self, model: str) -> dict[str, Any]:
        assert self.similarity is not None
        config = _checked(SimilarityConfig, {"model": model, "source": self.source,
                                             "targets": self.targets, **self._common(),
                                             **self.similarity}, "analyses.similarity")
        return without_runtime(dataclasses.asdict(config))

    def stability_config(self, model: str) -> dict[str, Any]:
        assert self.stability is not None
        config = _checked(StabilityConfig, {"pretrained": model, "finetuned": FINETUNED,
                                            "languages": (self.source, *self.targets),
                                            **self._common(), **self.stability},
                          "analyses.stability")
        return without_runtime(dataclasses.asdict(config))

    def of_finetuned(self, model: str, group: str) -> dict[str, Any]:
        """The analyses a fine-tuned run does while its checkpoint exists."""
        analyses: dict[str, Any] = {}
        if self.similarity is not None and self.similarity_finetuned:
            analyses["similarity"] = {**self.similarity_config(model), "model": FINETUNED}
        if self.stability is not None and (self.stability_groups is None
                                           or group in self.stability_groups):
            analyses["stability"] = self.stability_config(model)
        return analyses

    def correlates(self, group: str) -> bool:
        return group in self.correlation_groups

    def check(self, model: str) -> None:
        """Build every analysis configuration once so that bad settings fail now."""
        if self.similarity is not None:
            self.similarity_config(model)
        if self.stability is not None:
            self.stability_config(model)
        if self.correlation_groups and len(self.targets) < 3:
            raise ConfigError("key `analyses.correlation`: a correlation needs at least 3 target"
                              f" languages; the analyses have {len(self.targets)}")


def _checked(config_class: type, options: dict[str, Any], key: str) -> Any:
    """An analysis configuration from YAML values: types, then its own checks (presets...)."""
    config = _validated(config_class, options, f"{key}.settings")
    try:
        if hasattr(config, "resolved"):
            return config.resolved()
        config.check()
        return config
    except AlignscopeError as error:
        raise ConfigError(f"key `{key}`: {error}") from None


def _check_parallel(spec: ExperimentSpec, languages: tuple[str, ...]) -> None:
    """The parallel corpus must exist for every analysed language."""
    parallel = spec.analyses.parallel
    try:
        if parallel.startswith("ud:"):  # the file index says it without reading the treebanks
            name = parallel[3:].split(":")[0].lower()
            split = [*parallel[3:].split(":"), "test"][1]
            found = ud_treebanks(spec.data_dir)
            missing = [lang for lang in languages if split not in found.get(f"{lang}_{name}", {})]
            if missing:
                raise UnknownNameError(f"language for {parallel} (no {missing[0]}_{name}-ud-"
                                       f"{split}.conllu)", missing[0],
                                       sorted(code.split("_")[0] for code in found
                                              if code.endswith(f"_{name}")))
        else:
            load_parallel(parallel, languages, spec.data_dir)
    except AlignscopeError as error:
        raise ConfigError(f"key `analyses.parallel` ({spec.analyses.parallel}): {error}") from None
