"""The options of `finetune` and `evaluate`. Defaults follow XTREME's udpos recipe (see README).

Both are validated pydantic dataclasses (see `alignscope.config`): a wrong type, a value out of
range or an impossible combination fails when the object is built, before any data is read.
Nothing here imports torch; the validators that parse an init scheme or build a task import
their module when they run.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from alignscope.config import (
    DATA_DIR_HELP,
    DEFAULT_SEED,
    Count,
    DataDir,
    Datasets,
    Device,
    Flag,
    Folder,
    Fraction,
    Layers,
    Model,
    ModelFiles,
    Names,
    NonNegativeFloat,
    Overwrite,
    Precision,
    Rate,
    Seed,
    Text,
    options,
    user_error,
)
from alignscope.errors import ConfigError
from alignscope.layer_names import parse_layers
from alignscope.models.layers import Scope
from alignscope.tasks import TASKS

DEFAULT_MAX_LENGTH = 128  # subwords per window (XTREME)


def _split_groups(value: Any) -> Any:
    """`block.0-1;block.2-3` -> ['block.0-1', 'block.2-3'] (commas belong to one group)."""
    return [group.strip() for group in value.split(";")] if isinstance(value, str) else value


# Layer groups; each is checked for syntax before the model (and so its depth) is known.
LayerGroups = Annotated[list[Text], BeforeValidator(_split_groups)]
# A merge's layers: one group per run, empty for a run that gives no layer.
RunLayers = Annotated[list[str], BeforeValidator(_split_groups)]


def _split_runs(value: Any) -> Any:
    return [item.strip() for item in value.split(",")] if isinstance(value, str) else value


def _split_numbers(value: Any) -> Any:
    return [float(item) for item in value.split(",")] if isinstance(value, str) else value


Deprel = Literal["universal", "full"]

_DEVICE = "auto, cpu, cuda, cuda:N or mps."
_PRECISION = "Forward passes in fp32, bf16, fp16 (CUDA) or auto (bf16 on CUDA, fp32 elsewhere)."
_TASK_OPTIONS = "The task's keyword arguments (--deprel sets parsing's)."


@options(frozen=True)
class FinetuneConfig(ModelFiles):
    """What `alignscope finetune` runs."""

    model: Model = Field(description="Hub id or local folder of the model (encoder or decoder).")
    train: Annotated[Text, Flag(metavar="DATASET")] = Field(
        description="Training set of the source language, e.g. ud:en_ewt.")
    eval: Datasets = Field(default_factory=list, description="Zero-shot test sets, "
                           "comma-separated, e.g. ud:fr_pud,ud:de_gsd (the training "
                           "treebank's own test set is always scored).")
    task: Annotated[str, Flag(metavar="|".join(TASKS.names))] = Field(
        "pos", description="The task: part-of-speech tagging, dependency parsing or named "
                           "entities.")
    dev: Annotated[Text, Flag(metavar="DATASET")] | None = Field(
        None, description="Dev set that selects the model (default: the training treebank's dev split).")
    data_dir: DataDir | None = Field(None, description=DATA_DIR_HELP)
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the run: head, data order, dropout, "
                       "re-initialisation.")
    # RANDOM-INIT
    random_init: Layers | None = Field(None, description="Layers re-initialised before "
                                    "fine-tuning: block.0-1, block.10,block.11, embeddings "
                                    "(docs/layers.md).")
    random_init_regex: Annotated[str, Flag(metavar="REGEX")] | None = Field(
        None, description="Re-initialise the parameters whose names match this regex (the authors' "
                           "selection).")
    scope: Annotated[Scope, Flag(old_names=("reinit_scope",))] = Field(
        "all", description="What --random-init, --freeze and --revert touch in their layers: "
                           "all, attention, ffn or layernorm.")
    init_scheme: Annotated[str, Flag(old_names=("reinit_scheme",), metavar="SCHEME")] = Field(
        "model", description="How re-initialised parameters are drawn: model (the model's own "
                             "initialiser), torch-default or normal:SIGMA.")
    # post-hoc ablations (scope narrows them too)
    freeze: Layers | None = Field(None, description="Layers not trained, e.g. block.0-5.")
    revert: Annotated[LayerGroups, Flag(metavar="GROUPS")] = Field(
        default_factory=list, description="Layer groups reset to their pretrained weights after training "
                                           "and evaluated again, separated by ';', e.g. "
                                           "'block.0-1;block.2-3'.")
    # optimisation (XTREME udpos: lr 2e-5, 10 epochs, batch 32, max length 128)
    epochs: Count = Field(10, description="Passes over the training set.")
    lr: Rate = Field(2e-5, description="Peak learning rate (linear warm-up and decay).")
    head_lr: Rate | None = Field(None, description="Learning rate of the task head (default: "
                                 "--lr).")
    batch_size: Count = Field(32, description="Training sentences per update.")
    max_length: Count = Field(DEFAULT_MAX_LENGTH, description="Subwords per window; longer "
                              "sentences are read in several windows.")
    warmup_ratio: Fraction = Field(0.1, description="Share of the updates that warm the "
                                   "learning rate up.")
    weight_decay: NonNegativeFloat = Field(0.0, description="AdamW weight decay.")
    max_grad_norm: Rate = Field(1.0, description="Gradient norm clipping.")
    dropout: Fraction = Field(0.1, description="Dropout of the task head (the model keeps its "
                              "own).")
    max_steps: Count | None = Field(None, description="Stop after this many updates.")
    max_train_sentences: Count | None = Field(None, description="Train on the first N "
                                              "sentences.")
    max_dev_sentences: Count | None = Field(None, description="Select on the first N dev "
                                            "sentences.")
    max_eval_sentences: Count | None = Field(None, description="Score the first N sentences "
                                             "of each test set.")
    eval_batch_size: Count = Field(64, description="Sentences per batch when scoring.")
    # runtime
    device: Device = Field("auto", description=_DEVICE)
    precision: Precision = Field("auto", description=_PRECISION)
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Dtype the weights are loaded in.")
    # the strategies accelerate knows
    device_map: Literal["auto", "balanced", "balanced_low_0", "sequential"] | None = Field(
        None, description="auto: spread a model larger than one GPU over the GPUs and the CPU "
                          "(needs alignscope[big]).")
    threads: Count | None = Field(None, description="CPU threads for torch (default: torch's "
                                  "choice; 1 is fastest on a busy machine).")
    checkpoint_every: Count | None = Field(None, description=(
        "Also save the whole training state every N steps (it is always saved at each epoch "
        "end); only the latest checkpoint is kept, and removed once the run is finished."))
    resume: bool = Field(False, description=(
        "Continue the interrupted run in --out from its last checkpoint (from step 0 if it "
        "has none); a changed configuration is refused, naming the keys."))
    write_predictions: bool = Field(False, description="Also write the predictions, in the "
                                    "input's format, to OUT/predictions/.")
    deprel: Deprel | None = Field(None, description="Parsing: score DEPRELs as universal "
                                  "relations (the default) or in full, with subtypes.")
    task_options: Annotated[dict[str, Any], Flag(internal=True)] = Field(
        default_factory=dict, description=_TASK_OPTIONS)

    @field_validator("random_init", "freeze")
    @classmethod
    def _layers(cls, spec: str | None) -> str | None:
        if spec is not None and not spec.strip():
            raise ValueError("empty: give layers such as block.0-1, block.10,block.11 or "
                             "embeddings, or leave it out for a reference run")
        # Syntax only (the block count is checked on load), then the canonical spelling.
        return None if spec is None else str(user_error(parse_layers, spec))

    @field_validator("revert")
    @classmethod
    def _groups(cls, groups: list[str]) -> list[str]:
        names = [str(user_error(parse_layers, spec)) for spec in groups]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"the group {repeated[0]} is given twice; each group is reverted "
                             "and scored once")
        return names

    @field_validator("random_init_regex")
    @classmethod
    def _regex(cls, regex: str | None) -> str | None:
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as error:
                raise ValueError(f"not a regular expression ({error})") from None
            if not regex.strip():
                raise ValueError("empty: give a parameter-name pattern, or leave it out")
        return regex

    @field_validator("init_scheme")
    @classmethod
    def _scheme(cls, scheme: str) -> str:
        from alignscope.models.reinit import parse_scheme

        user_error(parse_scheme, scheme)
        return scheme

    @field_validator("task")
    @classmethod
    def _task(cls, task: str) -> str:
        return user_error(TASKS.check, task)

    @model_validator(mode="after")
    def _combinations(self) -> FinetuneConfig:
        user_error(check_task, self.task, self.task_arguments())
        if self.max_length < 8:
            raise ValueError(f"--max-length (max_length) must be at least 8 subwords (room for "
                             f"the special tokens and a word), got {self.max_length}")
        selected = self.random_init is not None or self.random_init_regex is not None
        if not selected and self.init_scheme != "model":
            raise ValueError("--init-scheme (init_scheme) applies to re-initialised layers: "
                             "add --random-init LAYERS (or --random-init-regex), or drop it")
        if not (selected or self.freeze or self.revert) and self.scope != "all":
            raise ValueError("--scope (scope) narrows layer ablations: add --random-init, "
                             "--freeze or --revert LAYERS, or drop it")
        return self

    def task_arguments(self) -> dict[str, Any]:
        """The task's keyword arguments: `task_options` and --deprel."""
        return task_arguments(self.task_options, self.deprel)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# How a run goes, not what it computes: a resumed run may change them.
RUNTIME_FIELDS = frozenset({"device", "threads", "checkpoint_every", "resume"})


@options(frozen=True)
class FinetuneOutput(Overwrite):
    out: Folder = Field(Path("runs/run"), description="Run folder: results.json, checkpoint/, "
                      "predictions/.")


@options(frozen=True)
class EvaluateConfig:
    """What `alignscope evaluate` runs: a finetune run folder scored on other datasets."""

    checkpoint: Folder = Field(description="A finetune run folder.")
    eval: Datasets = Field(description="Datasets to score, comma-separated, e.g. "
                           "ud:fr_pud,ud:ja_gsd.")
    out: Folder | None = Field(None, description="Output folder: evaluation.json, predictions/ "
                             "(default: the run folder).")
    data_dir: DataDir | None = Field(None, description=DATA_DIR_HELP)
    batch_size: Count = Field(64, description="Sentences per batch.")
    device: Device = Field("auto", description=_DEVICE)
    precision: Precision = Field("auto", description=_PRECISION)
    write_predictions: bool = Field(False, description="Also write the predictions, in the "
                                    "input's format, to OUT/predictions/.")
    max_sentences: Count | None = Field(None, description="Score the first N sentences of "
                                        "each set.")
    deprel: Deprel | None = Field(None, description="Parsing: score DEPRELs as universal "
                                  "relations or in full (default: as the run was trained).")
    task_options: Annotated[dict[str, Any], Flag(internal=True)] = Field(
        default_factory=dict, description=_TASK_OPTIONS + " They override the run's.")

    @model_validator(mode="after")
    def _some_data(self) -> EvaluateConfig:
        if not self.eval:
            raise ValueError("eval (--eval) names no dataset: give e.g. ud:fr_pud,ud:ja_gsd")
        return self

    def task_arguments(self) -> dict[str, Any]:
        """The task's keyword arguments that override the run's: `task_options`, --deprel."""
        return task_arguments(self.task_options, self.deprel)


def task_arguments(task_options: dict[str, Any], deprel: str | None) -> dict[str, Any]:
    if deprel is not None and task_options.get("deprel", deprel) != deprel:
        raise ConfigError(f"--deprel {deprel} contradicts task_options deprel "
                          f"{task_options['deprel']}", "give one of them")
    return {**task_options, **({"deprel": deprel} if deprel is not None else {})}


def check_task(name: str, task_options: dict[str, Any]) -> None:
    """An unknown task option fails here, not after the data is read (the task's module is
    imported only when it has options to check)."""
    if task_options:
        from alignscope.tasks import get_task

        try:
            get_task(name, **task_options)
        except TypeError:
            raise ConfigError(f"task {name!r} takes no option(s) "
                              f"{', '.join(task_options)}") from None


@options(frozen=True)
class MergeConfig:
    """What `alignscope merge` runs."""

    runs: Annotated[list[Path], Field(min_length=2), BeforeValidator(_split_runs),
                    Flag(metavar="RUNS")] = Field(
        description="Finetune run folders of the same base model (two or more), "
                    "comma-separated.")
    method: Literal["swap", "average"] = Field("swap", description="swap (layer groups) or "
                                               "average (weighted mean of every tensor).")
    layers: Annotated[RunLayers, Flag(metavar="GROUPS")] = Field(
        default_factory=list, description="swap: per run, the layers taken from it, "
                                          "';'-separated in run order, empty for none (e.g. "
                                          "';block.0-1,block.22-23').")
    base: Annotated[int, Field(ge=0, strict=True)] = Field(0, description="swap: index (from "
                                "0) of the run giving every other tensor and the task head.")
    weights: Annotated[list[float], BeforeValidator(_split_numbers), Flag(metavar="X,X")] = \
        Field(default_factory=list, description="average: one weight per run, summing to 1 "
                                                "(default: equal).")
    labels: Annotated[Names, Flag(metavar="NAMES")] | None = Field(
        None, description="Names of the runs in results (default: their folder names).")

    def check(self) -> None:
        if self.method == "swap":
            if self.weights:
                raise ConfigError("--weights is read only by --method average")
            if len(self.layers) != len(self.runs):
                raise ConfigError(f"--layers gives {len(self.layers)} groups for "
                                  f"{len(self.runs)} runs", "give one group per run, "
                                  "';'-separated, empty for none: ';block.0-1'")
            if self.base >= len(self.runs):
                raise ConfigError(f"--base {self.base}: there are {len(self.runs)} runs "
                                  f"(0-{len(self.runs) - 1})")
        elif self.layers:
            raise ConfigError("--layers is read only by --method swap")
        if self.labels is not None and len(self.labels) != len(self.runs):
            raise ConfigError(f"{len(self.labels)} labels for {len(self.runs)} runs")

    @property
    def run_labels(self) -> list[str]:
        return list(self.labels) if self.labels is not None else [p.name for p in self.runs]


@options(frozen=True)
class MergeOutput(Overwrite):
    out: Folder = Field(description="Output folder: checkpoint/ (as a finetune run's) and "
                                    "merge.json.")
