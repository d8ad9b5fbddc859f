from __future__ import annotations

import pytest
import torch

from alignscope.encoding.precision import autocast, check_precision
from alignscope.errors import ConfigError, Deprecated

CPU = torch.device("cpu")


def test_precision_names() -> None:
    check_precision("auto", CPU)
    with pytest.raises(ConfigError, match="unknown precision 'int8'"):
        check_precision("int8", CPU)


def test_cpu_autocast_follows_the_policy() -> None:
    x = torch.randn(4, 8)
    layer = torch.nn.Linear(8, 8)
    for precision, dtype in (("fp32", torch.float32), ("auto", torch.float32),
                             ("bf16", torch.bfloat16)):
        with autocast(CPU, precision):
            assert layer(x).dtype == dtype
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        autocast(CPU, "fp16")


def test_defaults_the_old_autocast_name_warns_and_bf16_is_gone() -> None:
    from alignscope.analysis.settings import AnalysisSettings
    from alignscope.training.config import EvaluateConfig, FinetuneConfig

    assert AnalysisSettings(pooling="mean").extraction_options().precision == "fp32"
    assert FinetuneConfig(model="m", train="ud:en_ewt").precision == "auto"
    assert EvaluateConfig(checkpoint="run", eval="ud:fr_pud").precision == "auto"
    with pytest.warns(Deprecated, match=r"`autocast` \(--autocast\) is deprecated and will be "
                                        r"removed in alignscope 0.3; use `precision`"):
        assert AnalysisSettings(autocast="bf16", pooling="mean").precision == "bf16"
    with pytest.raises(ConfigError, match="unknown option 'bf16'"):
        FinetuneConfig(model="m", train="ud:en_ewt", bf16=False)
