"""The one precision policy of every forward pass (finetune, evaluate, similarity, stability).

  fp32  full precision everywhere.
  bf16  bfloat16 autocast on the device (CUDA or CPU); weights stay as loaded.
  fp16  float16 autocast, CUDA only.
  auto  bf16 on CUDA, fp32 elsewhere: the default of finetune and evaluate.

Only the model's forward runs under autocast: pooling and every measure get float32, and CPU
runs in fp32 or auto are bit-reproducible. The old flags map onto it: `--bf16` = auto,
`--no-bf16` = fp32, `--autocast bf16|fp16` = bf16|fp16.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Literal

import torch

from alignscope.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
PrecisionName = Literal["fp32", "bf16", "fp16", "auto"]  # for validated option fields
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str | None, *, default: str, bf16: bool | None = None,
                      autocast: str | None = None) -> str:
    """`precision`, or the deprecated `bf16` / `autocast` setting mapped onto it, or `default`."""
    aliases = []
    if bf16 is not None:
        aliases.append(("--bf16" if bf16 else "--no-bf16", "auto" if bf16 else "fp32"))
    if autocast is not None:
        aliases.append((f"--autocast {autocast}", autocast))
    for flag, value in aliases:
        warnings.warn(f"{flag} is deprecated; use --precision {value}", FutureWarning,
                      stacklevel=2)
        if precision is not None and precision != value:
            raise ConfigError(f"{flag} (= --precision {value}) contradicts --precision "
                              f"{precision}; give only --precision")
        precision = value
    precision = default if precision is None else precision
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA device; use bf16 or fp32 on "
                          f"{device.type}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The context a forward pass runs in under `precision` on `device`."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext()
    check_precision(precision, device)
    return torch.autocast(device.type, dtype=_DTYPES[precision])
