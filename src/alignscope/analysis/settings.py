"""Options shared by `similarity` and `stability`: data, features, measures, controls, runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alignscope.analysis.controls import check_controls
from alignscope.analysis.features import ExtractionOptions
from alignscope.analysis.measures import MeasureOptions
from alignscope.models.encoder import Encoder, load_encoder


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings:
    parallel: str = "ud:pud"
    measures: tuple[str, ...] | None = None  # None: the analysis's default
    pooling: str | None = None  # mean | cls | word | authors; None: the analysis's default
    max_sentences: int | None = None
    max_tokens: int | None = None
    controls: tuple[str, ...] = ()
    bootstrap: int = 0  # half-sample splits for intervals; 0 = none
    confidence: float = 0.95
    layer_matrix: bool = False
    margin_k: int = 4  # neighbours of the margin measure
    seed: int = 0
    data_dir: str | None = None
    device: str = "auto"
    autocast: str | None = None
    batch_tokens: int = 8192
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
        return ExtractionOptions(self.pooling, self.max_tokens, self.batch_tokens, self.autocast,
                                 self.use_cache)

    def load(self, name: str, revision: str | None = None) -> Encoder:
        return load_encoder(name, revision=revision, trust_remote_code=self.trust_remote_code,
                            allow_pickle=self.allow_pickle)
