"""The fine-tuning and evaluation options. Defaults follow XTREME's udpos recipe (see README).

Both are validated pydantic dataclasses (see `alignscope.config`): a wrong type, a value out of
range or an impossible combination fails when the object is built, before any data is read.
"""

from __future__ import annotations

import re
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, field_validator, model_validator

from alignscope.config import (
    Count,
    Device,
    Fraction,
    NameList,
    NonNegativeFloat,
    Rate,
    Seed,
    Text,
    options,
    user_error,
)
from alignscope.encoding.precision import PrecisionName
from alignscope.errors import ConfigError
from alignscope.layer_names import parse_layers
from alignscope.models.reinit import SCOPES, parse_scheme
from alignscope.tasks import get_task

DEFAULT_MAX_LENGTH = 128  # subwords per window (XTREME)


def _split_groups(value: Any) -> Any:
    """`block.0-1;block.2-3` -> ['block.0-1', 'block.2-3'] (commas belong to one group)."""
    return [group.strip() for group in value.split(";")] if isinstance(value, str) else value


# Layer groups; each is checked for syntax before the model (and so its depth) is known.
LayerGroups = Annotated[list[Text], BeforeValidator(_split_groups)]


@options
class FinetuneConfig:
    FLAGS: ClassVar[dict[str, str]] = {"reinit_scope": "--scope", "reinit_scheme": "--init-scheme"}

    model: Text
    train: Text
    eval: NameList = field(default_factory=list)
    task: Text = "pos"
    dev: Text | None = None  # default: the dev split of the training treebank
    data_dir: str | None = None
    seed: Seed = 1
    # RANDOM-INIT
    random_init: str | None = None  # layers: "block.0-1", "block.10,block.11", "embeddings"
    random_init_regex: str | None = None  # parity with the authors' parameter-name regexes
    reinit_scope: str = "all"  # all | attention | ffn | layernorm
    reinit_scheme: str = "model"  # model | torch-default | normal:SIGMA
    # post-hoc ablations (reinit_scope narrows them too)
    freeze: str | None = None  # layers not trained, e.g. "block.0-5"
    revert: LayerGroups = field(default_factory=list)  # reset to pretrained after training
    # optimisation (XTREME udpos: lr 2e-5, 10 epochs, batch 32, max length 128)
    epochs: Count = 10
    lr: Rate = 2e-5
    head_lr: Rate | None = None  # task head learning rate; None: same as lr
    batch_size: Count = 32
    max_length: Count = DEFAULT_MAX_LENGTH
    warmup_ratio: Fraction = 0.1
    weight_decay: NonNegativeFloat = 0.0
    max_grad_norm: Rate = 1.0
    dropout: Fraction = 0.1  # task head dropout; the encoder keeps its own config's dropout
    max_steps: Count | None = None
    max_train_sentences: Count | None = None
    max_dev_sentences: Count | None = None
    max_eval_sentences: Count | None = None  # score the first N sentences of each eval set
    eval_batch_size: Count = 64
    # runtime
    device: Device = "auto"  # auto | cpu | cuda | cuda:N
    precision: PrecisionName | None = None  # default auto: bf16 on CUDA, else fp32
    bf16: bool | None = None  # deprecated: True = precision auto, False = fp32
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # the weights' dtype
    # "auto": spread a large model over GPUs and CPU (accelerate); the strategies it knows
    device_map: Literal["auto", "balanced", "balanced_low_0", "sequential"] | None = None
    threads: Count | None = None  # CPU threads for torch; None: torch's default
    write_predictions: bool = False
    task_options: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False

    @field_validator("random_init", "freeze")
    @classmethod
    def _layers(cls, spec: str | None) -> str | None:
        if spec is not None and not spec.strip():
            raise ValueError("empty: give layers such as block.0-1, block.10,block.11 or "
                             "embeddings, or leave it out for a reference run")
        if spec is not None:
            user_error(parse_layers, spec)  # syntax; the block count is checked on load
        return spec

    @field_validator("revert")
    @classmethod
    def _groups(cls, groups: list[str]) -> list[str]:
        for spec in groups:
            user_error(parse_layers, spec)
        return groups

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

    @field_validator("reinit_scheme")
    @classmethod
    def _scheme(cls, scheme: str) -> str:
        user_error(parse_scheme, scheme)
        return scheme

    @field_validator("reinit_scope")
    @classmethod
    def _scope(cls, scope: str) -> str:
        if scope not in SCOPES:
            raise ValueError(f"must be one of {', '.join(SCOPES)}")
        return scope

    @model_validator(mode="after")
    def _combinations(self) -> FinetuneConfig:
        user_error(check_task, self.task, self.task_options)
        if self.max_length < 8:
            raise ValueError(f"--max-length (max_length) must be at least 8 subwords (room for "
                             f"the special tokens and a word), got {self.max_length}")
        selected = self.random_init is not None or self.random_init_regex is not None
        if not selected and self.reinit_scheme != "model":
            raise ValueError("--init-scheme (reinit_scheme) applies to re-initialised layers: "
                             "add --random-init LAYERS (or --random-init-regex), or drop it")
        if not (selected or self.freeze or self.revert) and self.reinit_scope != "all":
            raise ValueError("--scope (reinit_scope) narrows layer ablations: add --random-init, "
                             "--freeze or --revert LAYERS, or drop it")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@options(frozen=True, kw_only=True)
class EvaluateConfig:
    """What `alignscope evaluate` runs: a finetune run folder scored on other datasets."""

    checkpoint: Path
    eval: NameList
    out: Path | None = None
    data_dir: str | None = None
    batch_size: Count = 64
    device: Device = "auto"
    precision: PrecisionName | None = None  # default auto: bf16 on CUDA, else fp32
    bf16: bool | None = None  # deprecated: True = precision auto, False = fp32
    write_predictions: bool = False
    max_sentences: Count | None = None
    task_options: dict[str, Any] = field(default_factory=dict)  # override the checkpoint's

    @model_validator(mode="after")
    def _some_data(self) -> EvaluateConfig:
        if not self.eval:
            raise ValueError("eval (--eval) names no dataset: give e.g. ud:fr_pud,ud:ja_gsd")
        return self


def check_task(name: str, task_options: dict[str, Any]) -> None:
    """An unknown task or task option fails here, not after the data is read."""
    try:
        get_task(name, **task_options)
    except TypeError:
        raise ConfigError(f"task {name!r} takes no option(s) {', '.join(task_options)}") from None

