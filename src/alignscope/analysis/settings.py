"""Options shared by `similarity` and `stability`: data, features, measures, controls, runtime."""

from __future__ import annotations

from dataclasses import dataclass

from alignscope.analysis.compare import MeasureOptions
from alignscope.analysis.controls import check_controls
from alignscope.analysis.features import ExtractionOptions
from alignscope.encoding.precision import resolve_precision
from alignscope.models.encoder import Encoder, load_encoder


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings:
    parallel: str = "ud:pud"
    measures: tuple[str, ...] | None = None  # None: the analysis's default
    pooling: str | None = None  # a POOLINGS name; None: the analysis's default
    prompt_template: str | None = None  # prompt-last pooling: "... {sentence} ..."
    max_sentences: int | None = None
    max_tokens: int | None = None
    controls: tuple[str, ...] = ()
    bootstrap: int = 0  # half-sample splits for intervals; 0 = none
    confidence: float = 0.95
    layer_matrix: bool = False
    seed: int = 0
    data_dir: str | None = None
    device: str = "auto"
    precision: str | None = None  # fp32 (default) | bf16 | fp16 (encoding/precision.py)
    autocast: str | None = None  # deprecated alias of precision
    batch_tokens: int = 8192
    use_cache: bool = True
    revision: str | None = None  # hub revision of the (pretrained) model
    trust_remote_code: bool = False
    allow_pickle: bool = False

    def check(self) -> None:
        check_controls(self.controls)
        self.measure_options()
        self.extraction_options()

    def measure_options(self) -> MeasureOptions:
        assert self.measures is not None, "resolve the default measures first"
        return MeasureOptions(tuple(self.measures), self.bootstrap, self.confidence,
                              self.layer_matrix, self.seed)

    def extraction_options(self) -> ExtractionOptions:
        assert self.pooling is not None, "resolve the default pooling first"
        precision = resolve_precision(self.precision, default="fp32", autocast=self.autocast)
        return ExtractionOptions(self.pooling, self.max_tokens, self.batch_tokens, precision,
                                 self.use_cache, self.prompt_template)

    def load(self, name: str, revision: str | None = None) -> Encoder:
        return load_encoder(name, revision=revision, trust_remote_code=self.trust_remote_code,
                            allow_pickle=self.allow_pickle)
