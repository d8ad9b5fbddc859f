from __future__ import annotations

import pytest
import torch

from alignscope.encoding.precision import autocast, resolve_precision
from alignscope.errors import ConfigError

CPU = torch.device("cpu")


def test_defaults_and_deprecated_aliases_map_onto_precision() -> None:
    assert resolve_precision(None, default="auto") == "auto"
    assert resolve_precision("bf16", default="fp32") == "bf16"
    with pytest.warns(FutureWarning, match="--precision fp32"):
        assert resolve_precision(None, default="auto", bf16=False) == "fp32"
    with pytest.warns(FutureWarning, match="--precision auto"):
        assert resolve_precision(None, default="fp32", bf16=True) == "auto"
    with pytest.warns(FutureWarning, match="--precision fp16"):
        assert resolve_precision(None, default="fp32", autocast="fp16") == "fp16"
    with pytest.raises(ConfigError, match="contradicts --precision bf16"), \
            pytest.warns(FutureWarning):
        resolve_precision("bf16", default="auto", bf16=False)
    with pytest.raises(ConfigError, match="unknown precision 'int8'"):
        resolve_precision("int8", default="fp32")


def test_cpu_autocast_follows_the_policy() -> None:
    x = torch.randn(4, 8)
    layer = torch.nn.Linear(8, 8)
    for precision, dtype in (("fp32", torch.float32), ("auto", torch.float32),
                             ("bf16", torch.bfloat16)):
        with autocast(CPU, precision):
            assert layer(x).dtype == dtype
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        autocast(CPU, "fp16")


def test_analysis_and_finetune_options_map_the_old_flags() -> None:
    from alignscope.analysis.settings import AnalysisSettings
    from alignscope.training.config import FinetuneConfig

    with pytest.warns(FutureWarning):
        assert AnalysisSettings(autocast="bf16", pooling="mean").extraction_options().precision \
            == "bf16"
    assert AnalysisSettings(pooling="mean").extraction_options().precision == "fp32"
    config = FinetuneConfig(model="m", train="ud:en_ewt", bf16=False)
    with pytest.warns(FutureWarning):
        assert resolve_precision(config.precision, default="auto", bf16=config.bf16) == "fp32"
