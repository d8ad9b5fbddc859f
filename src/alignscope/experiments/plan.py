"""An experiment expanded into runs, each checked against the model and the data first.

Kinds of run, each in its own folder under `OUT/runs/`:
  similarity   the pretrained model's cross-lingual similarity (one per model);
  lens         the logit and tuned lens on the pretrained model (one per model; docs/llm.md);
  neurons      its language-specific neurons and the deactivation matrix (one per model);
  finetune     one task x layer group x seed: fine-tuning, then the analyses of the fine-tuned
               model (similarity, stability) while its checkpoint exists;
  correlation  a fine-tuned run's zero-shot scores against the pretrained similarity;
  merge        one model merged from fine-tuned runs of one task and seed (`merges`), evaluated
               on the task's source and targets (its group is the merge's name).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignscope.analysis.llm_settings import LensConfig, NeuronsConfig
from alignscope.analysis.settings import SimilarityConfig, StabilityConfig
from alignscope.config import OptionsError, option_names
from alignscope.data.parallel import load_parallel
from alignscope.data.registry import parse_ref, resolve, ud_treebanks
from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError, did_you_mean
from alignscope.experiments.keys import run_key, without_runtime
from alignscope.experiments.spec import REFERENCE, ExperimentSpec, MergeSpec, TaskSpec, describe
from alignscope.layer_names import LayerSelection, parse_layers
from alignscope.tasks import TASKS
from alignscope.training.config import FinetuneConfig, MergeConfig

# Set by the sweep for every run, not by the `finetune:` section.
MANAGED_FINETUNE = frozenset({"model", "train", "eval", "task", "dev", "data_dir", "seed",
                              "random_init", "task_options", "device", "threads", "resume"})
MANAGED_ANALYSIS = frozenset({"model", "pretrained", "finetuned", "targets", "source", "languages",
                              "parallel", "data_dir", "device"})
FINETUNED = "<this run's fine-tuned model>"
LLM_CONFIGS: dict[str, type] = {"lens": LensConfig, "neurons": NeuronsConfig}
# Kinds run by the sweep's driver: they read other runs' folders.
DRIVER_KINDS = ("correlation", "merge")


@dataclass(frozen=True)
class RunSpec:
    name: str  # the run's folder under OUT/runs/
    kind: str  # similarity | lens | neurons | finetune | correlation | merge
    config: dict[str, Any]  # resolved; what the key hashes
    labels: dict[str, Any]  # task, model, group, seed: for tables
    runtime: dict[str, Any] = field(default_factory=dict)  # device, threads...: not hashed
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
    from alignscope.models.encoder import check_architecture, resolve_model_source
    from alignscope.models.layers import configured_depth

    if gguf.is_gguf(model):
        return gguf.block_count(Path(resolve_model_source(model)))
    try:
        config = AutoConfig.from_pretrained(resolve_model_source(model))
        check_architecture(config, model)
    except (OSError, ValueError) as error:
        raise ConfigError(f"key `models`: cannot read the configuration of {model!r} "
                          f"({str(error).splitlines()[0]})") from None
    except AlignscopeError as error:
        raise ConfigError(f"key `models`: {error.message}", error.hint) from None
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


def _validated(config_class: type, options: dict[str, Any], key: str,
               written: dict[str, str]) -> Any:
    """`config_class` from YAML values; an error names the key under `key`, or the key the
    user wrote for a field the sweep fills in (`written`)."""
    try:
        return config_class(**options)
    except OptionsError as error:
        raise ConfigError(describe(error.validation, prefix=key, written=written)) from None
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


def _check_names(spec: ExperimentSpec) -> None:
    for name in spec.tasks:
        if name not in TASKS:
            raise ConfigError(describe_unknown(f"tasks.{name}", name, set(TASKS)))
    _check_keys(spec.finetune, FinetuneConfig, MANAGED_FINETUNE, "finetune")
    _check_shared(spec)


def check_offline(spec: ExperimentSpec, depth: int) -> None:
    """What `plan` checks without reading the models or the data, for an experiment whose
    models (of `depth` blocks) and data are still to be made (the demo's sweeps)."""
    _check_names(spec)
    groups = layer_groups(spec, depth)
    for key, wanted in (("analyses.stability.groups", spec.analyses.stability
                         and spec.analyses.stability.groups),
                        ("analyses.correlation.groups", spec.analyses.correlation
                         and spec.analyses.correlation.groups)):
        _canonical_groups(key, list(wanted) if isinstance(wanted, list) else [], groups, depth)
    task_name, task = next(iter(spec.tasks.items()))
    _finetune_config(spec, spec.named_models()[0][1], task_name, task, REFERENCE, spec.seeds[0])


def plan(spec: ExperimentSpec) -> list[RunSpec]:
    """Every run of the experiment, dependencies before the runs that read them."""
    _check_names(spec)
    languages = {name: _task_languages(name, task, spec.data_dir)
                 for name, task in spec.tasks.items()}
    runtime = {"device": spec.device, "threads": spec.threads}
    runs: list[RunSpec] = []
    analysis = _AnalysisPlan.build(spec, languages)
    multi = len(spec.models) > 1
    for model_name, model in spec.named_models():
        depth = model_depth(model)
        groups = layer_groups(spec, depth)
        analysis.check_groups(groups, depth)
        suffix = f"-{_slug(model_name)}" if multi else ""
        similarity_name = None
        if analysis.similarity is not None and analysis.similarity_pretrained:
            similarity_name = f"similarity{suffix}" if multi else "similarity-pretrained"
            config = analysis.similarity_config(model)
            runs.append(RunSpec(similarity_name, "similarity", config,
                                {"model": model_name, "model_path": model,
                                 "group": "pretrained"}, runtime))
        for kind, config in analysis.of_pretrained(model).items():
            runs.append(RunSpec(f"{kind}{suffix}", kind, config,
                                {"model": model_name, "model_path": model,
                                 "group": "pretrained"}, runtime))
        for task_name, task in spec.tasks.items():
            for group in groups:
                for seed in spec.seeds:
                    name = f"{task_name}-{group}-s{seed}{suffix}"
                    config = _finetune_config(spec, model, task_name, task, group, seed)
                    analyses_of_run = analysis.of_finetuned(model, group)
                    labels = {"task": task_name, "model": model_name, "model_path": model,
                              "group": group, "seed": seed,
                              "source_language": languages[task_name].source}
                    runs.append(RunSpec(
                        name, "finetune",
                        {"finetune": without_runtime(config.to_dict()), **analyses_of_run},
                        labels, {**runtime, "checkpoint_every": config.checkpoint_every}))
                    if similarity_name and analysis.correlates(group):
                        runs.append(RunSpec(
                            f"correlation-{name}", "correlation",
                            {"measure": analysis.correlation_measure,
                             "similarity": _by_name(runs, similarity_name).key,
                             "transfer": _by_name(runs, name).key},
                            labels, {}, (similarity_name, name)))
            runs += _merges(spec, task_name, task, groups, depth, suffix,
                            {"model": model_name, "model_path": model}, languages[task_name])
    _check_data(runs)
    return runs


def _merges(spec: ExperimentSpec, task_name: str, task: TaskSpec, groups: list[str],
            depth: int, suffix: str, model: dict[str, str], languages: _Languages
            ) -> list[RunSpec]:
    """The `merges` of this task, one run per seed, after the fine-tuned runs it reads;
    `model` holds the model's labels (its readable name and its path)."""
    runs = []
    for index, merge in enumerate(spec.merges):
        if merge.task != task_name:
            continue
        config = _merge_config(spec, merge, groups, depth, f"merges.{index}")
        evaluation = {"eval": [task.source, *task.targets], "data_dir": _absolute(spec.data_dir),
                      "max_sentences": spec.finetune.get("max_eval_sentences"),
                      "task_options": dict(task.options)}
        for seed in spec.seeds:
            deps = tuple(f"{task_name}-{group}-s{seed}{suffix}" for group in config["labels"])
            runs.append(RunSpec(f"merge-{merge.name}-s{seed}{suffix}", "merge",
                                {"merge": config, "evaluate": evaluation},
                                {"task": task_name, **model, "group": merge.name,
                                 "seed": seed, "source_language": languages.source},
                                {}, deps))
    return runs


def _merge_config(spec: ExperimentSpec, merge: MergeSpec, groups: list[str], depth: int,
                  key: str) -> dict[str, Any]:
    if not spec.keep_checkpoints:
        raise ConfigError(f"key `{key}`: a merge reads the fine-tuned runs' checkpoints",
                          "set keep_checkpoints: true")
    labels = list(merge.groups)
    _canonical_groups(f"{key}.groups", labels, groups, depth)
    options = {"runs": [f"<{label}>" for label in labels], "labels": labels,
               **merge.model_dump(include={"method", "layers", "base", "weights"})}
    config: MergeConfig = _checked(MergeConfig, options, key, {})
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "runs"}


def _check_data(runs: list[RunSpec]) -> None:
    """The fine-tunes' datasets parse and their labels agree, as far as the runs read them: a
    malformed file fails here, naming its file and line, not in every run."""
    from alignscope.tasks import get_task
    from alignscope.training.finetune import read_data, resolve_data
    from alignscope.training.shared import SharedData

    shared, checked = SharedData(), set()
    for run in runs:
        if run.kind != "finetune":
            continue
        config = FinetuneConfig(**run.config["finetune"])
        reads = {key: config.to_dict()[key] for key in _DATA_KEYS}
        if json.dumps(reads, sort_keys=True) not in checked:
            checked.add(json.dumps(reads, sort_keys=True))
            read_data(get_task(config.task, **config.task_arguments()), resolve_data(config),
                      config, shared)


# What decides which sentences a fine-tune reads.
_DATA_KEYS = ("task", "task_options", "deprel", "train", "dev", "eval", "data_dir",
              "max_train_sentences", "max_dev_sentences", "max_eval_sentences")


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
                     group: str, seed: int) -> FinetuneConfig:
    options = {**spec.finetune, "model": model, "train": task.source, "eval": list(task.targets),
               "task": task_name, "dev": task.dev, "data_dir": _absolute(spec.data_dir),
               "seed": seed, "task_options": dict(task.options),
               "random_init": None if group == REFERENCE else group}  # canonical: block.0-1
    return _validated(FinetuneConfig, options, "finetune", {
        "model": "models", "train": f"tasks.{task_name}.source",
        "eval": f"tasks.{task_name}.targets", "dev": f"tasks.{task_name}.dev",
        "task_options": f"tasks.{task_name}.options", "data_dir": "data_dir", "seed": "seeds",
        "device": "device", "threads": "threads"})


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name.rstrip("/")).name or name)


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
    llm: dict[str, dict[str, Any]]  # lens, neurons: their own settings

    @classmethod
    def build(cls, spec: ExperimentSpec, languages: dict[str, _Languages]) -> _AnalysisPlan:
        analyses = spec.analyses
        sources = {lang.source for lang in languages.values()}
        wanted = analyses.similarity or analyses.stability or analyses.correlation \
            or analyses.lens or analyses.neurons
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
        llm = {kind: _analysis_settings(spec, own.settings, LLM_CONFIGS[kind],
                                        f"analyses.{kind}")
               for kind, own in (("lens", analyses.lens), ("neurons", analyses.neurons)) if own}
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
                   correlation.measure if correlation else None, llm)
        plan.check(spec.named_models()[0][1])
        return plan

    def _written(self, analysis: Any) -> dict[str, str]:
        """Where the user wrote each field the sweep fills in or shares between analyses."""
        shared = {name: f"analyses.settings.{name}" for name in self.spec.analyses.settings
                  if name not in analysis.settings}
        return {"model": "models", "pretrained": "models", "source": "tasks",
                "targets": "analyses.languages", "languages": "analyses.languages",
                "parallel": "analyses.parallel", "data_dir": "data_dir", "device": "device",
                **shared}

    def _common(self) -> dict[str, Any]:
        return {"parallel": self.spec.analyses.parallel, "data_dir": _absolute(self.spec.data_dir),
                "device": self.spec.device}

    def similarity_config(self, model: str) -> dict[str, Any]:
        assert self.similarity is not None
        config = _checked(SimilarityConfig, {"model": model, "source": self.source,
                                             "targets": self.targets, **self._common(),
                                             **self.similarity}, "analyses.similarity",
                          self._written(self.spec.analyses.similarity))
        return without_runtime(dataclasses.asdict(config))

    def stability_config(self, model: str) -> dict[str, Any]:
        assert self.stability is not None
        config = _checked(StabilityConfig, {"pretrained": model, "finetuned": FINETUNED,
                                            "languages": (self.source, *self.targets),
                                            **self._common(), **self.stability},
                          "analyses.stability", self._written(self.spec.analyses.stability))
        return without_runtime(dataclasses.asdict(config))

    def of_pretrained(self, model: str) -> dict[str, dict[str, Any]]:
        """lens and neurons runs' configurations: the studied languages are the targets
        (neurons also the source); the source is the lens's default latent language."""
        languages = {"lens": self.targets, "neurons": (self.source, *self.targets)}
        configs = {}
        for kind, own in self.llm.items():
            defaults = {"latent": (self.source,)} if kind == "lens" else {}
            config = _checked(LLM_CONFIGS[kind], {
                **defaults, "model": model, "languages": languages[kind], **self._common(),
                **own}, f"analyses.{kind}", self._written(getattr(self.spec.analyses, kind)))
            configs[kind] = without_runtime(dataclasses.asdict(config))
        return configs

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

    def check_groups(self, groups: list[str], depth: int) -> None:
        """The groups stability and correlation name are groups the experiment runs; they are
        kept under their canonical names (`0-1` is `block.0-1`)."""
        for key, wanted in (("analyses.stability.groups", self.stability_groups or []),
                            ("analyses.correlation.groups", self.correlation_groups)):
            _canonical_groups(key, wanted, groups, depth)

    def check(self, model: str) -> None:
        """Build every analysis configuration once so that bad settings fail now."""
        if self.similarity is not None:
            self.similarity_config(model)
        if self.stability is not None:
            self.stability_config(model)
        self.of_pretrained(model)
        if self.correlation_groups and len(self.targets) < 3:
            raise ConfigError("key `analyses.correlation`: a correlation needs at least 3 target"
                              f" languages; the analyses have {len(self.targets)}")


def _canonical_groups(key: str, wanted: list[str], groups: list[str], depth: int) -> None:
    """Each of `wanted` is one of `groups`; it is renamed in place to its canonical name."""
    for index, group in enumerate(wanted):
        try:
            name = group if group == REFERENCE else str(parse_layers(group, depth))
        except ConfigError as error:
            raise ConfigError(f"key `{key}.{index}`: {error}") from None
        if name not in groups:
            raise ConfigError(f"key `{key}.{index}`: {group} is not a layer group this "
                              f"experiment runs ({', '.join(groups)})",
                              "name one of those, or add it to random_init")
        wanted[index] = name


def _checked(config_class: type, options: dict[str, Any], key: str,
             written: dict[str, str]) -> Any:
    """An analysis configuration from YAML values: types, then its own checks (presets...)."""
    config = _validated(config_class, options, f"{key}.settings", written)
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
