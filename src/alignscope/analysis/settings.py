"""Options shared by `similarity` and `stability`: data, features, measures, controls, runtime."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from alignscope.analysis.controls import check_controls
from alignscope.analysis.features import ExtractionOptions
from alignscope.analysis.measures import MeasureOptions
from alignscope.config import Count, Device, Names, NonNegative, OpenUnit, Seed, Text, options
from alignscope.encoding.precision import PrecisionName, resolve_precision
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
    standardise: bool = Field(
        False, description="Scale each dimension of each language's features to zero mean and "
        "unit variance before any measure, so that a few outlier dimensions of huge "
        "activation (common in decoder LLMs) do not decide linear CKA, retrieval or MEXA "
        "alone (docs/analysis.md).")
    margin_k: Count = 4  # neighbours of the margin measure
    seed: Seed = 0
    data_dir: str | None = None
    device: Device = "auto"
    precision: PrecisionName | None = None  # fp32 (default) | bf16 | fp16 | auto
    autocast: PrecisionName | None = None  # deprecated alias of precision
    batch_tokens: Count = 8192
    use_cache: bool = True
    revision: str | None = None  # hub revision of the (pretrained) model
    gguf_file: str | None = Field(
        None, description="A GGUF file inside the (pretrained) model's hub repository or "
        "folder, read through transformers' GGUF support and dequantised; a .gguf path can be "
        "given as the model itself (docs/models.md).")
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

    def check_models(self, pretrained: str, *others: str) -> None:
        """The device available and local model folders complete, before any data is read;
        `gguf_file` belongs to the (pretrained) model named first."""
        pick_device(self.device)
        resolve_model_source(pretrained, self.allow_pickle, self.gguf_file, self.revision)
        for name in others:
            resolve_model_source(name, self.allow_pickle)

    def load(self, name: str, revision: str | None = None,
             gguf_file: str | None = None) -> Encoder:
        return load_encoder(name, revision=revision, trust_remote_code=self.trust_remote_code,
                            allow_pickle=self.allow_pickle, gguf_file=gguf_file)
