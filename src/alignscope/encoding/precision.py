"""The one precision policy of every forward pass (finetune, evaluate, similarity, stability).

  fp32  full precision everywhere: the default of similarity and stability.
  bf16  bfloat16 autocast on the device (CUDA or CPU); weights stay as loaded.
  fp16  float16 autocast, CUDA only.
  auto  bf16 on CUDA, fp32 elsewhere: the default of finetune and evaluate.

Only the model's forward runs under autocast: pooling and every measure get float32, and CPU
runs in fp32 or auto are bit-reproducible. The options name it `--precision`
(`alignscope.config.Precision`).
"""

from __future__ import annotations

import contextlib
import typing
from typing import Any

import torch

from alignscope.config import Precision
from alignscope.errors import ConfigError

PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device) -> None:
    """`precision` is one of PRECISIONS and runs on `device`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}", f"use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA device", "use bf16 or fp32 on "
                          f"{device.type}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The context a forward pass runs in under `precision` on `device`."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext()
    check_precision(precision, device)
    return torch.autocast(device.type, dtype=_DTYPES[precision])
