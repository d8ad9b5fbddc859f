"""The results schema (version 2), as pydantic models: every run kind shares one header and
adds its own fields. `json_schema()` renders the documented schema (docs/results.schema.json);
models allow extra keys, so a field added later does not break older readers."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SCHEMA_VERSION = 2
Kind = Literal["finetune", "evaluate", "similarity", "stability", "correlation", "pretrain",
               "lens", "neurons", "merge"]
KINDS: tuple[Kind, ...] = ("finetune", "evaluate", "similarity", "stability", "correlation",
                           "pretrain", "lens", "neurons", "merge")

LayerName = Annotated[str, Field(pattern=r"^(embeddings|block\.[0-9]+)$",
                                 description="`embeddings` or `block.K` (docs/layers.md)")]
Value = float | None  # null: undefined (NaN is not JSON)
Curves = dict[str, list[Value]]  # language -> one value per layer


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModelInfo(_Open):
    name: str = Field(description="what the user asked for: hub id, folder or run folder")
    source: str | None = Field(None, description="the resolved hub id or folder")


class RunHeader(_Open):
    """What every result file says about its run."""

    schema_version: Literal[2]
    kind: Kind
    source_language: str | None = Field(
        description="the fine-tuning source language (similarity: the compared source); "
                    "null when no fine-tuned model is involved and none applies")
    random_init: list[LayerName] = Field(
        description="layers re-drawn before fine-tuning the model this run is about; "
                    "empty for a pretrained model or a reference (REF) run")
    model: ModelInfo
    config: dict[str, Any] = Field(description="the resolved configuration of the run")
    versions: dict[str, str]
    created: str


class Evaluation(_Open):
    dataset: str
    language: str
    sentences: int
    metrics: dict[str, Any]


class Reinit(_Open):
    spec: str | None = Field(description="the layer selection, e.g. `block.0-1`")
    regex: str | None
    scope: str
    scheme: str
    seed: int
    tensors: list[dict[str, Any]]


class Ablation(_Open):
    layers: str = Field(description="the layer selection, e.g. `block.0-5` (docs/layers.md)")
    scope: str
    tensors: list[dict[str, Any]] = Field(
        description="name and shape of each tensor acted on; for a revert also `change`, "
                    "||tuned - pretrained|| / ||pretrained||")


class Revert(Ablation):
    evaluations: list[Evaluation] = Field(
        description="every evaluation set scored again with these layers back at their "
                    "pretrained weights (no retraining)")


class FinetuneResult(RunHeader):
    kind: Literal["finetune"]
    task: str
    metric: str
    reinit: Reinit
    freeze: Ablation | None = Field(None, description="layers kept out of training (--freeze)")
    revert: list[Revert] = Field(default_factory=list, description="--revert groups, in order")
    evaluations: list[Evaluation]
    training: dict[str, Any]


class EvaluateResult(RunHeader):
    kind: Literal["evaluate"]
    task: str
    metric: str
    checkpoint: str
    evaluations: list[Evaluation]


class _LayerResult(RunHeader):
    layers: list[LayerName]

    def _check_lengths(self, curves: dict[str, dict[str, Curves]]) -> None:
        for measure, by_condition in curves.items():
            for condition, by_language in by_condition.items():
                for language, values in by_language.items():
                    if len(values) != len(self.layers):
                        raise ValueError(f"results.{measure}.{condition}.{language} has "
                                         f"{len(values)} values for {len(self.layers)} layers")


class SimilarityResult(_LayerResult):
    kind: Literal["similarity"]
    target_languages: list[str]
    measures: list[str]
    conditions: list[str]
    results: dict[str, dict[str, Curves]] = Field(
        description="measure -> condition -> language -> one value per layer")

    @model_validator(mode="after")
    def _lengths(self) -> SimilarityResult:
        self._check_lengths(self.results)
        return self


class StabilityResult(_LayerResult):
    kind: Literal["stability"]
    pretrained: ModelInfo
    languages: list[str]
    measures: list[str]
    conditions: list[str]
    results: dict[str, dict[str, Curves]]

    @model_validator(mode="after")
    def _lengths(self) -> StabilityResult:
        self._check_lengths(self.results)
        return self


class LayerCorrelation(_Open):
    layer: LayerName
    languages: int
    spearman: Value
    spearman_p: Value
    pearson: Value
    pearson_p: Value


class CorrelationResult(_LayerResult):
    kind: Literal["correlation"]
    similarity: str
    transfer: str
    measure: str
    metric: str
    languages: list[str]
    per_layer: list[LayerCorrelation]


class PretrainResult(RunHeader):
    """`alignscope lab pretrain`: a small model pretrained from scratch (docs/lab.md)."""

    kind: Literal["pretrain"]
    objective: Literal["mlm", "clm"]
    languages: list[str] = Field(description="the languages pretrained on")
    parameters: int
    vocab_size: int
    train_sentences: int
    steps: int
    final_loss: Value = Field(description="mean training loss of the last logged steps")
    heldout: dict[str, dict[str, Value]] = Field(
        description="language -> loss and accuracy on its dev text (clm: also perplexity); "
                    "empty for a language without dev text")
    curve: list[dict[str, Any]] = Field(
        default_factory=list, description="the held-out scores along training: {step, "
        "heldout: language -> scores}, `curve_points` of them, the last at the last step")
    convergence: dict[str, Any] | None = Field(
        default=None, description="what the last fifth of the steps added to each pretraining "
        "language's held-out accuracy (points) and whether that is a plateau")
    train_seconds: float | None = Field(default=None, description="the training loop's time")
    train_cpu_seconds: float | None = Field(default=None,
                                            description="the training loop's CPU time")
    train_tokens: int | None = Field(default=None, description="real tokens trained on")
    tokens_per_second: int | None = None




class LayerCurve(_Open):
    mean: list[Value]
    low: list[Value]
    high: list[Value]
    n: list[int]


class LensItem(_Open):
    task: str
    source: str | None
    target: str
    prompt: str = Field(description="the text the model read")
    input_ids: list[int]
    position: int = Field(description="the index of the read token in input_ids")
    target_ids: list[int] = Field(description="the answer's tokens (docs/llm.md: the rule)")
    latent_ids: dict[str, list[int]]
    control_ids: dict[str, list[int]] = Field(
        default_factory=dict, description="latent language -> the tokens of another concept's "
                                          "word in it (the control)")
    values: dict[str, dict[str, list[Any]]] = Field(
        description="lens -> metric (target.prob, target.rank, latent.<lang>.prob, ...) -> "
                    "one value per layer")


class LensResult(_LayerResult):
    kind: Literal["lens"]
    languages: list[str]
    latent: list[str]
    tasks: list[str]
    lenses: list[str]
    curves: dict[str, dict[str, dict[str, LayerCurve]]] = Field(
        description="lens -> task (translation:fr-zh, repetition:zh, cloze:fr, next-word:xx) -> "
                    "metric -> mean over items with its interval, one value per layer")
    item_counts: dict[str, dict[str, int]]
    items: list[LensItem]

    @model_validator(mode="after")
    def _lengths(self) -> LensResult:
        for lens, by_task in self.curves.items():
            for task, by_metric in by_task.items():
                for metric, curve in by_metric.items():
                    if len(curve.mean) != len(self.layers):
                        raise ValueError(f"curves.{lens}.{task}.{metric} has {len(curve.mean)} "
                                         f"values for {len(self.layers)} layers")
        return self


class Deactivation(_Open):
    languages: list[str] = Field(description="rows: whose neurons are off; columns: the text")
    base: dict[str, float] = Field(description="perplexity of each language, nothing off")
    selected: list[list[Value]] = Field(description="perplexity change, language neurons off")
    random: list[list[Value]] = Field(description="perplexity change, as many random neurons "
                                                  "off (same count per layer)")


class NeuronsResult(_LayerResult):
    kind: Literal["neurons"]
    languages: list[str]
    neurons_per_layer: int
    selection: dict[str, Any]
    counts: dict[str, list[int]] = Field(description="language -> selected neurons per block")
    deactivation: Deactivation | None


class MergeResult(RunHeader):
    kind: Literal["merge"]
    method: Literal["swap", "average"]
    runs: list[str]
    layers: dict[str, Any] = Field(
        description="layer (embeddings, block.K, other) -> the run it was taken from (swap) "
                    "or each run's weight (average)")


RunResult = Annotated[FinetuneResult | EvaluateResult | SimilarityResult | StabilityResult
                      | CorrelationResult | PretrainResult | LensResult | NeuronsResult
                      | MergeResult, Field(discriminator="kind")]
ADAPTER: TypeAdapter[Any] = TypeAdapter(RunResult)


def json_schema() -> dict[str, Any]:
    schema = ADAPTER.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"alignscope results, schema version {SCHEMA_VERSION}", **schema}


def json_schema_text() -> str:
    """The text of docs/results.schema.json (a test keeps the committed file equal to it)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
