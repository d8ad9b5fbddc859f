"""Options shared by `similarity` and `stability`: data, features, measures, controls, runtime."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field

from alignscope.analysis.controls import check_controls
from alignscope.analysis.features import ExtractionOptions
from alignscope.analysis.measures import MeasureOptions
from alignscope.config import Count, Device, Names, NonNegative, OpenUnit, Seed, Text, options
from alignscope.encoding.precision import PrecisionName, autocast, check_precision, resolve_precision
from alignscope.models.encoder import Encoder, load_encoder, resolve_model_source
from alignscope.runtime import pick_device


@options(frozen=True, kw_only=True)
class AnalysisSettings:
    """Validated on construction (see `alignscope.config`); names are checked by `check`."""

    parallel: Text = "ud:pud"
    measures: Names | None = None  # None: the analysis's default
    pooling: str | None = None  # a POOLINGS name; None: the analysis's default
    prompt_template: str | None = None  # prompt-last pooling: "... {sentence} ..."
    max_sentences: Count | None = None
    max_tokens: Annotated[int, Field(ge=3)] | None = None  # [CLS], one subword, [SEP]
    controls: Names = ()
    bootstrap: NonNegative = 0  # half-sample splits for intervals; 0 = none
    confidence: OpenUnit = 0.95
    layer_matrix: bool = False
    margin_k: Count = 4  # neighbours of the margin measure
    seed: Seed = 0
    data_dir: str | None = None
    device: Device = "auto"
    precision: PrecisionName | None = None  # fp32 (default) | bf16 | fp16 | auto
    autocast: PrecisionName | None = None  # deprecated alias of precision
    batch_tokens: Count = 8192
    use_cache: bool = True
    revision: str | None = None  # hub revision of the (pretrained) model
    trust_remote_code: bool = False
    allow_pickle: bool = False

    command: ClassVar[str] = ""  # the analysis these settings belong to: similarity | stability

    def check(self) -> None:
        check_controls(self.controls, self.command)
        self.measure_options()
        self.extraction_options()

    def measure_options(self) -> MeasureOptions:
        assert self.measures is not None, "resolve the default measures first"
        return MeasureOptions(tuple(self.measures), self.bootstrap, self.confidence,
                              self.layer_matrix, self.seed, self.margin_k)

    def extraction_options(self) -> ExtractionOptions:
        assert self.pooling is not None, "resolve the default pooling first"
        precision = resolve_precision(self.precision, default="fp32", autocast=self.autocast)
        return ExtractionOptions(self.pooling, self.max_tokens, self.batch_tokens, precision,
                                 self.use_cache, self.prompt_template)

    def check_models(self, *names: str) -> None:
        """The device available and local model folders complete, before any data is read."""
        pick_device(self.device)
        for name in names:
            resolve_model_source(name, self.allow_pickle)

    def load(self, name: str, revision: str | None = None) -> Encoder:
        return load_encoder(name, revision=revision, trust_remote_code=self.trust_remote_code,
                            allow_pickle=self.allow_pickle)


@options(frozen=True, kw_only=True)
class ModelSettings:
    """Options of the analyses that run a model (with its head) over text: lens, neurons."""

    data_dir: str | None = Field(None, description="Data folder (default $ALIGNSCOPE_DATA).")
    device: Device = Field("auto", description="auto | cpu | cuda[:N].")
    precision: PrecisionName = Field("fp32", description="fp32 | bf16 | fp16 (CUDA) | auto.")
    dtype: str = Field("float32", description="Weights' dtype: float32, bfloat16, float16.")
    batch_tokens: Count = Field(4096, description="Tokens per forward pass.")
    revision: str | None = Field(None, description="Hub revision of the model.")
    trust_remote_code: bool = Field(False, description="Run the model's own code.")
    allow_pickle: bool = Field(False, description="Allow pickled .bin weights.")

    def load_model(self, name: str, head: bool) -> tuple[Encoder, torch.device]:
        """The model (on its device, with its LM head if asked) and the device, after the
        device and precision are checked."""
        device = pick_device(self.device)
        check_precision(self.precision, device)
        encoder = load_encoder(name, revision=self.revision,
                               trust_remote_code=self.trust_remote_code,
                               allow_pickle=self.allow_pickle, dtype=self.dtype, head=head)
        (encoder.lm or encoder.model).to(device)
        return encoder, device

    def autocast(self, device: torch.device) -> Callable[[], Any]:
        """A fresh precision context per forward pass (encoding/precision.py)."""
        return lambda: autocast(device, self.precision)
