"""The options of `similarity`, `stability` and `correlate`, and the names they accept
(presets, controls; measures and poolings are the MEASURES and POOLINGS registries).

Light on purpose: nothing here imports torch, so `--help` and a sweep's validation are fast;
the methods that run an analysis import what they need.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from alignscope.analysis import MEASURES
from alignscope.config import (
    DATA_DIR_HELP,
    DEFAULT_SEED,
    Count,
    DataDir,
    Device,
    Flag,
    Folder,
    Languages,
    Model,
    ModelFiles,
    Names,
    NonNegative,
    OpenUnit,
    Overwrite,
    Precision,
    Seed,
    Text,
    options,
    user_error,
)
from alignscope.encoding import POOLINGS
from alignscope.errors import ConfigError
from alignscope.registry import Registry

if TYPE_CHECKING:
    from alignscope.analysis.features import ExtractionOptions
    from alignscope.analysis.measures import MeasureOptions
    from alignscope.models.encoder import Encoder

PRESETS: Registry[dict[str, Any]] = Registry("preset")
PRESETS.register("default", {"measures": ("linear", "debiased", "rbf", "retrieval"),
                             "pooling": "mean", "max_sentences": None, "max_tokens": None})
PRESETS.register("authors", {"measures": ("rbf",), "pooling": "authors", "max_sentences": 800,
                             "max_tokens": 200})


@dataclass(frozen=True)
class Control:
    description: str
    commands: tuple[str, ...]  # the analyses that offer it


CONTROLS: Registry[Control] = Registry("control")
CONTROLS.register("shuffled", Control("non-parallel pairs: target rows deranged",
                                      ("similarity", "stability")))
CONTROLS.register("random-init", Control("a randomly initialised copy of the model",
                                         ("similarity",)))


def check_controls(controls: tuple[str, ...], command: str) -> None:
    """Every control known, and offered by `command`."""
    for name in controls:
        if command not in CONTROLS[name].commands:
            offered = [n for n, control in CONTROLS.items() if command in control.commands]
            raise ConfigError(f"`{command}` has no {name} control ({CONTROLS[name].description}, "
                              f"in {', '.join(CONTROLS[name].commands)})", "use "
                              f"{', '.join(offered)} or none")


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names)


@options(frozen=True)
class AnalysisSettings(ModelFiles):
    """What `similarity` and `stability` share: data, features, measures, controls, runtime."""

    parallel: Annotated[Text, Flag(metavar="SOURCE")] = Field(
        "ud:pud", description="Parallel sentences: ud:pud, flores:devtest, a folder of LANG.txt files, a "
                               "path template with {lang}, or LANG=PATH,... (docs/analysis.md).")
    measures: Annotated[Names, Flag(metavar="NAMES")] | None = Field(
        None, description=f"Measures, comma-separated: {_listed(MEASURES.names)} (default: "
                          "the preset's).")
    pooling: Annotated[str, Flag(metavar="NAME")] | None = Field(
        None, description=f"How a sentence becomes a vector: {_listed(POOLINGS.names)} "
                          "(default: the preset's).")
    prompt_template: Annotated[str, Flag(metavar="PROMPT")] | None = Field(
        None, description="prompt-last pooling: the prompt, with {sentence} where the sentence goes.")
    max_sentences: Count | None = Field(None, description="Analyse a seeded sample of this "
                                        "many sentences (default: all).")
    # At least [CLS], one subword and [SEP].
    max_tokens: Annotated[int, Field(ge=3, strict=True)] | None = Field(
        None, description="Tokens kept per sentence (default: the model's limit).")
    controls: Annotated[Names, Flag(metavar="NAMES")] = Field(
        (), description="Controls, comma-separated, or none.")
    half_samples: Annotated[NonNegative, Flag(old_names=("bootstrap",))] = Field(
        0, description="Random half-sample splits for confidence intervals (0: none).")
    confidence: OpenUnit = Field(0.95, description="Coverage of the intervals.")
    layer_matrix: bool = Field(False, description="Also compare every layer of one side with "
                               "every layer of the other.")
    margin_k: Count = Field(4, description="Neighbours of the margin measure.")
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the sample, the shuffled pairs, the "
                       "half samples and the random-init control.")
    data_dir: DataDir | None = Field(None, description=DATA_DIR_HELP)
    device: Device = Field("auto", description="auto, cpu, cuda, cuda:N or mps.")
    precision: Annotated[Precision, Flag(old_names=("autocast",))] = Field(
        "fp32", description="Forward passes in fp32, bf16, fp16 (CUDA) or auto (bf16 on CUDA).")
    batch_tokens: Count = Field(8192, description="Padded tokens per forward pass.")
    standardise: bool = Field(
        False, description="Scale each dimension of each language's features to zero mean and "
        "unit variance before any measure, so that a few outlier dimensions of huge "
        "activation (common in decoder LLMs) do not decide linear CKA, retrieval or MEXA "
        "alone (docs/analysis.md).")
    cache: Annotated[bool, Flag(old_names=("use_cache",))] = Field(
        True, description="Re-use and store extracted features ($ALIGNSCOPE_CACHE).")

    command: ClassVar[str] = ""  # the analysis these settings belong to: similarity | stability

    @field_validator("measures")
    @classmethod
    def _measures(cls, measures: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if measures is not None and not measures:
            raise ValueError("give at least one measure, e.g. linear")
        for name in measures or ():
            user_error(MEASURES.check, name)
        return measures

    @field_validator("pooling")
    @classmethod
    def _pooling(cls, pooling: str | None) -> str | None:
        return None if pooling is None else user_error(POOLINGS.check, pooling)

    @field_validator("controls")
    @classmethod
    def _controls(cls, controls: tuple[str, ...]) -> tuple[str, ...]:
        for name in controls:
            user_error(CONTROLS.check, name)
        return controls

    @model_validator(mode="after")
    def _offered(self) -> AnalysisSettings:
        user_error(check_controls, self.controls, self.command)
        return self

    def check(self) -> None:
        self.measure_options()
        self.extraction_options()

    def measure_options(self) -> MeasureOptions:
        from alignscope.analysis.measures import MeasureOptions

        assert self.measures is not None, "resolve the default measures first"
        return MeasureOptions(tuple(self.measures), self.half_samples, self.confidence,
                              self.layer_matrix, self.seed, self.margin_k)

    def extraction_options(self) -> ExtractionOptions:
        from alignscope.analysis.features import ExtractionOptions

        assert self.pooling is not None, "resolve the default pooling first"
        return ExtractionOptions(self.pooling, self.max_tokens, self.batch_tokens, self.precision,
                                 self.cache, self.prompt_template)

    def check_models(self, pretrained: str, *others: str) -> None:
        """The device available, local model folders complete and a GGUF file readable, before
        any data is read; `gguf_file` belongs to the (pretrained) model named first."""
        from alignscope.models.encoder import resolve_model_source
        from alignscope.runtime import pick_device

        pick_device(self.device)
        resolve_model_source(pretrained, self.allow_pickle, self.gguf_file, self.revision)
        for name in others:
            resolve_model_source(name, self.allow_pickle)

    def load(self, name: str, revision: str | None = None,
             gguf_file: str | None = None) -> Encoder:
        from alignscope.models.encoder import load_encoder

        return load_encoder(name, revision=revision, trust_remote_code=self.trust_remote_code,
                            allow_pickle=self.allow_pickle, gguf_file=gguf_file)


@options(frozen=True)
class SimilarityConfig(AnalysisSettings):
    """What `alignscope similarity` runs; None means "the preset's value"."""

    model: Model = Field(description="Hub id, model folder or finetune run folder.")
    targets: Languages = Field(description="Target languages, comma-separated, e.g. fr,de.")
    source: Annotated[Text, Flag(metavar="LANG")] = Field("en", description="Source language.")
    preset: Annotated[str, Flag(metavar="|".join(PRESETS.names))] = Field(
        "default", description="default (the corrected procedure) or authors (the released script, "
                                "exactly; docs/analysis.md).")
    controls: Annotated[Names, Flag(metavar="NAMES")] = Field(
        ("shuffled", "random-init"), description="Controls, comma-separated: shuffled, random-init, or "
                                                  "none.")
    centre: bool = Field(False, description="Remove each language's mean vector first.")
    partial_length: bool = Field(False, description="Residualise each language's features on "
                                 "sentence length first (removes the length confound).")

    command: ClassVar[str] = "similarity"

    @field_validator("preset")
    @classmethod
    def _preset(cls, preset: str) -> str:
        return user_error(PRESETS.check, preset)

    def resolved(self) -> SimilarityConfig:
        """The preset's values filled in, then everything checked."""
        filled = {key: value for key, value in PRESETS[self.preset].items()
                  if getattr(self, key) is None}
        config = dataclasses.replace(self, **filled)
        if not config.targets:
            raise ConfigError("give at least one target language (--targets fr,de,...)")
        if config.source in config.targets:
            raise ConfigError(f"the source language {config.source!r} is also a target")
        if config.preset == "authors" and (config.half_samples or config.layer_matrix):
            raise ConfigError("--half-samples and --layer-matrix need one sample of sentences; "
                              "the authors' preset averages over its windows")
        if config.pooling == "word":
            raise ConfigError("word pooling gives one row per word and translations have no "
                              "word alignment", "use it with `alignscope stability`")
        config.check()
        return config


@options(frozen=True)
class StabilityConfig(AnalysisSettings):
    """What `alignscope stability` runs; `revision` applies to the pretrained model."""

    pretrained: Model = Field(description="The model before fine-tuning: hub id or folder.")
    finetuned: Annotated[Text, Flag(metavar="RUN")] = Field(
        description="A finetune run folder, or the fine-tuned model's folder.")
    languages: Annotated[Languages, Flag(old_names=("langs",))] = Field(
        description="Languages, comma-separated; the first is the source of the cross-lingual "
                    "comparison.")
    measures: Annotated[Names, Flag(metavar="NAMES")] | None = Field(
        ("linear", "debiased", "rbf"),
        description=f"Measures, comma-separated: {_listed(MEASURES.names)}.")
    pooling: Annotated[str, Flag(metavar="NAME")] | None = Field(
        "mean", description=f"How a sentence becomes a vector: {_listed(POOLINGS.names)}.")
    controls: Annotated[Names, Flag(metavar="NAMES")] = Field(
        ("shuffled",), description="Controls: shuffled, or none.")

    command: ClassVar[str] = "stability"

    def check(self) -> None:
        if not self.languages:
            raise ConfigError("give at least one language (--languages en,fr,de)")
        super().check()


@options(frozen=True)
class CorrelationConfig:
    """What `alignscope correlate` compares."""

    similarity: Annotated[Text, Flag(metavar="RUN")] = Field(
        description="A similarity run folder or its similarity.json.")
    transfer: Annotated[Text, Flag(metavar="RUN")] = Field(
        description="A finetune run folder or its results.json (or an evaluation.json).")
    measure: Annotated[Text, Flag(metavar="NAME")] | None = Field(
        None, description="Similarity measure (default: the run's first).")
    condition: Annotated[Text, Flag(metavar="NAME")] = Field(
        "parallel", description="parallel, or a control to correlate instead.")
    dataset: Text | None = Field(None, description="Keep the evaluations whose dataset "
                                 "contains this text, e.g. _pud.")


@options(frozen=True)
class SimilarityOutput(Overwrite):
    out: Folder = Field(description="Output folder: similarity.json, CSV tables, figures.")


@options(frozen=True)
class StabilityOutput(Overwrite):
    out: Folder = Field(description="Output folder: stability.json, CSV tables, figures.")


@options(frozen=True)
class CorrelationOutput(Overwrite):
    out: Folder | None = Field(None, description="Output folder (default: beside the similarity "
                             "run, SIMILARITY-vs-TRANSFER).")
