"""The experiment file: one YAML mapping describing a whole study, validated before any work.

    name: paper-pos
    models: [bert-base-multilingual-cased]
    data_dir: ${ALIGNSCOPE_DATA:-../shared/data}
    seeds: [1, 2, 3]
    tasks:
      pos: {source: ud:en_ewt, targets: [ud:fr_pud, ud:de_pud]}
    random_init: {reference: true, window: 2}      # REF + block.0-1, block.2-3, ...
    finetune: {epochs: 10, lr: 2e-5}               # any FinetuneConfig field
    analyses:
      settings: {max_sentences: 500}               # shared by similarity and stability
      similarity: {pretrained: true, finetuned: true}
      stability: {groups: all}
      correlation: {groups: [REF]}
      lens: {settings: {max_items: 20}}            # any LensConfig field (docs/llm.md)
      neurons: {settings: {ppl_sentences: 50}}     # any NeuronsConfig field
    merges:                                        # per seed, evaluated on the task's sets
      - {name: swap, task: pos, groups: [REF, block.0-1], layers: ['', block.0-1]}
    keep_checkpoints: false                        # merges need true

`${VAR}` and `${VAR:-default}` in any string value are expanded from the environment;
`--set KEY=VALUE` (dotted keys, YAML values) overrides a key before validation. Every error
names the key it is about.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alignscope.config import Device, Text, check_input, load_yaml
from alignscope.errors import ConfigError, did_you_mean
from alignscope.runs import model_name

REFERENCE = "REF"
_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_REFERENCE = re.compile(r"\$\{[^}]*\}?")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Strict):
    source: str = Field(description="training set, e.g. ud:en_ewt (its dev split selects)")
    targets: list[str] = Field(min_length=1, description="zero-shot test sets")
    dev: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="task options (deprel)")


class GroupsSpec(_Strict):
    """RANDOM-INIT groups: the reference (nothing re-drawn), a window, explicit groups."""

    reference: bool = True
    window: int | None = Field(default=None, ge=1,
                               description="consecutive blocks per group, covering the model")
    groups: list[str] = Field(default_factory=list, description="e.g. block.0-1, embeddings")


class SimilaritySpec(_Strict):
    pretrained: bool = True
    finetuned: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)


class StabilitySpec(_Strict):
    groups: list[str] | Literal["all"] = "all"
    settings: dict[str, Any] = Field(default_factory=dict)


class CorrelationSpec(_Strict):
    groups: list[str] = Field(default_factory=lambda: [REFERENCE])
    measure: str | None = None


class LlmSpec(_Strict):
    """`lens` or `neurons` on each pretrained model (the targets are its languages)."""

    settings: dict[str, Any] = Field(default_factory=dict)


class AnalysesSpec(_Strict):
    parallel: str = "ud:pud"
    languages: list[str] | None = Field(
        default=None, description="target languages; default: those of each task's targets")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="shared by similarity and stability")
    similarity: SimilaritySpec | None = None
    stability: StabilitySpec | None = None
    correlation: CorrelationSpec | None = None
    lens: LlmSpec | None = None
    neurons: LlmSpec | None = None


class MergeSpec(_Strict):
    """A model merged, per seed, from this experiment's fine-tuned runs of one task
    (`alignscope merge`), then evaluated on that task's source and targets."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    task: str
    groups: list[str] = Field(min_length=2, description="layer groups of the runs merged, "
                                                        "e.g. [REF, block.0-1]")
    method: Literal["swap", "average"] = "swap"
    layers: list[str] = Field(default_factory=list, description="swap: per group, the layers "
                                                                "taken from its run")
    base: int = Field(default=0, ge=0)
    weights: list[float] = Field(default_factory=list)


class ModelSpec(_Strict):
    path: str = Field(description="a checkpoint folder or a hub id")
    name: str | None = Field(default=None, description="how tables, figures and the report "
                             "name the model (default: the folder's name, or the hub id)")


class ExperimentSpec(_Strict):
    name: str
    models: list[Text | ModelSpec] = Field(min_length=1, description="paths or hub ids, or "
                                          "{path, name} mappings to name a model")
    data_dir: str | None = None
    seeds: list[int] = Field(min_length=1)
    tasks: dict[str, TaskSpec] = Field(min_length=1)
    random_init: GroupsSpec = Field(default_factory=GroupsSpec)
    finetune: dict[str, Any] = Field(default_factory=dict)
    analyses: AnalysesSpec = Field(default_factory=AnalysesSpec)
    merges: list[MergeSpec] = Field(default_factory=list)
    keep_checkpoints: bool = False
    device: Device = "auto"
    threads: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _one_model(cls, data: Any) -> Any:
        """`model: X` is `models: [X]`."""
        if isinstance(data, dict) and "model" in data:
            if "models" in data:
                raise ValueError("give `model` or `models`, not both")
            data = {**data, "models": [data["model"]]}
            del data["model"]
        return data

    @field_validator("seeds", "models")
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        keys = [value.path if isinstance(value, ModelSpec) else value for value in values]
        if len(set(keys)) != len(keys):
            raise ValueError("an item is given twice")
        return values

    @model_validator(mode="after")
    def _distinct_names(self) -> ExperimentSpec:
        names = [name for name, _ in self.named_models()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"two models are named {', '.join(repeated)}: give each a `name` "
                             "(models: [{path: ..., name: ...}])")
        return self

    def named_models(self) -> list[tuple[str, str]]:
        """(readable name, path or hub id) of every model, in order."""
        return [(model_name(entry), entry) if isinstance(entry, str)
                else (entry.name or model_name(entry.path), entry.path)
                for entry in self.models]


def expand_env(data: Any, where: str = "") -> Any:
    """`${VAR}` / `${VAR:-default}` in every string, recursively; an unset VAR is an error."""
    if isinstance(data, dict):
        return {key: expand_env(value, _join(where, str(key))) for key, value in data.items()}
    if isinstance(data, list):
        return [expand_env(value, f"{where}.{i}") for i, value in enumerate(data)]
    if not isinstance(data, str):
        return data

    for reference in _REFERENCE.findall(data):  # `${VAR:path}`, `${VAR`: not a variable
        if not _ENV.fullmatch(reference):
            raise ConfigError(f"key `{where}`: {reference!r} is not a variable reference",
                              "write ${NAME}, or ${NAME:-DEFAULT} for a default")

    def substitute(match: re.Match[str]) -> str:
        value = os.environ.get(match["name"])
        if value is None and match["default"] is None:
            raise ConfigError(f"key `{where}`: environment variable {match['name']} is not set "
                              f"(export it, or write ${{{match['name']}:-DEFAULT}})")
        return value if value is not None else match["default"]

    return _ENV.sub(substitute, data)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs: dotted keys into nested mappings, values parsed as YAML."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write KEY=VALUE, e.g. --set finetune.epochs=3")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({error})") from None
        parts = key.strip().split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: `{'.'.join(parts[:depth + 1])}` is not a "
                                  "mapping")
            node = child
        node[parts[-1]] = value
    return data


def load_spec(source: str | Path | dict[str, Any], overrides: list[str] | None = None,
              ) -> ExperimentSpec:
    """Read (file or mapping), override, expand `${VAR}`, validate the schema."""
    where = "the experiment" if isinstance(source, dict) else str(source)
    if not isinstance(source, dict):
        check_input(Path(source), "experiment file")
    data = copy.deepcopy(source) if isinstance(source, dict) else load_yaml(source)
    data = expand_env(apply_overrides(data, overrides or []))
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as error:
        message = describe(error, ExperimentSpec)
        if isinstance(data, dict) and "model" in data:  # what was written: `model: X`
            message = message.replace("`models.0`", "`model`")
        raise ConfigError(f"{where}: {message}") from None


_UNION_MEMBER = re.compile(r"\[|^ModelSpec$")


def describe(error: ValidationError, schema: type[BaseModel] | None = None,
             prefix: str = "", written: dict[str, str] | None = None) -> str:
    """The first problem, naming its key; unknown keys get the close known ones. An unknown
    key comes first: it is often the misspelling of a required one said to be missing.
    `written` names the key the user wrote for a field filled from elsewhere (`model` ->
    `models`)."""
    first = min(error.errors(), key=lambda item: item["type"] != "extra_forbidden")
    # A union's member (`models`: a path or a {path, name} mapping) is not a key the user wrote.
    parts = [str(part) for part in first["loc"] if not _UNION_MEMBER.search(str(part))]
    if parts and parts[0] in (written or {}):
        key = ".".join([(written or {})[parts[0]], *parts[1:]])
    else:
        key = _join(prefix, ".".join(parts))
    if not key:  # a check of the whole file: its input is the whole file
        return first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        known = _known_keys(schema, first["loc"][:-1]) if schema else []
        hint = did_you_mean(str(first["loc"][-1]), known) or \
            (f"; known: {', '.join(known)}" if known else "")
        return f"unknown key `{key}`{hint}"
    if first["type"] == "missing":
        return f"key `{key}` is required"
    message = first["msg"].removeprefix("Value error, ")
    return f"key `{key}`: {message} (got {first.get('input')!r})"


def _known_keys(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model: Any = schema
    for part in loc:
        field = model.model_fields.get(str(part)) if isinstance(model, type) and \
            issubclass(model, BaseModel) else None
        if field is None:  # a mapping's key (a task name) or a list index: same schema
            continue
        model = _model_of(field.annotation)
        if model is None:
            return []
    return sorted(model.model_fields) if isinstance(model, type) and \
        issubclass(model, BaseModel) else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix and key else prefix or key
