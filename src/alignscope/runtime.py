"""Device choice, versions and resource figures shared by training and analysis."""

from __future__ import annotations

import platform
import resource
import sys

import torch

from alignscope.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def versions() -> dict[str, str]:
    import tokenizers
    import transformers

    from alignscope import __version__

    return {"alignscope": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "platform": platform.platform()}


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    # ru_maxrss is in KiB on Linux.
    figures = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        figures["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return figures
