"""The whole state of a training run, saved so that a killed run continues exactly where it
stopped: `finetune --resume` and `lab pretrain` share it.

A checkpoint is one folder, replaced atomically (alignscope.io): a run killed at any point,
even while writing, leaves the previous checkpoint or the new one, never a mix; so only the
latest is kept. It holds

  model.safetensors   every weight and buffer of the model (tied tensors once)
  optimizer.pt        the optimizer's state (tensors and numbers only: read with weights_only)
  rng.safetensors     the torch CPU and CUDA generator states
  GROUP.safetensors   the caller's named tensors (best dev weights, a data-order generator)
  state.json          the configuration, the caller's progress (step, history, ...), the
                      scheduler and gradient scaler, the Python and NumPy generators

The configuration is compared on load: a checkpoint of another configuration is refused with
the differing keys named, except `runtime` keys (threads, device, ...) that change how fast a
run goes, not what it computes. On CPU with the same thread count, saving after step k,
restoring, and taking step k+1 gives the bits of the run that was never interrupted.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

from alignscope.errors import ConfigError, DataFormatError
from alignscope.io import atomic_directory, atomic_write_json, recover

STATE_FILE = "state.json"
FORMAT = 1
_RESERVED = frozenset({"model", "rng"})


class ConfigChanged(ConfigError):
    """The checkpoint was written by a run of another configuration; `changes` names the keys."""

    def __init__(self, directory: Path, what: str, changes: str) -> None:
        self.changes = changes
        super().__init__(f"{directory} holds the checkpoint of an interrupted {what} with "
                         f"another configuration ({changes})",
                         "resume with the same options, or choose another --out, or pass "
                         "--overwrite to start again")


def comparable(config: Mapping[str, Any], runtime: Collection[str]) -> dict[str, Any]:
    """The configuration as JSON would hold it (tuples as lists), runtime keys left out."""
    kept = {key: value for key, value in config.items() if key not in runtime}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def save(directory: str | Path, *, config: Mapping[str, Any], progress: Mapping[str, Any],
         model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any = None,
         scaler: Any = None, tensors: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
         files: Callable[[Path], object] | None = None) -> None:
    """Write a checkpoint of everything that decides the rest of the run into `directory`,
    replacing the one there. `progress` is the caller's JSON (counters, history); `tensors`
    its named groups of tensors; `files` writes any other file into the new folder."""
    tensors = dict(tensors or {})
    if _RESERVED & set(tensors):
        raise ValueError(f"tensor groups may not be named {sorted(_RESERVED)}")
    with atomic_directory(directory) as tmp:
        save_model(model, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        save_file(_torch_rng(), str(tmp / "rng.safetensors"))
        for group, values in tensors.items():
            save_file({key: value.detach().cpu().contiguous() for key, value in values.items()},
                      str(tmp / f"{group}.safetensors"))
        if files is not None:
            files(tmp)
        atomic_write_json(tmp / STATE_FILE, {
            "format": FORMAT, "config": comparable(config, ()), "progress": dict(progress),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "tensor_groups": sorted(tensors), "rng": _host_rng()})


def load(directory: str | Path, config: Mapping[str, Any], *, runtime: Collection[str] = (),
         what: str = "run") -> Checkpoint | None:
    """The checkpoint in `directory`, or None if there is none. One written by another
    configuration is refused, naming the keys that differ (`runtime` keys may)."""
    directory = Path(directory)
    if not exists(directory):  # (a swap cut short by a kill put the previous one back)
        return None
    path = directory / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        state = None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataFormatError(path, None, "not a training checkpoint this version can read",
                              f"remove {directory} to start the run again")
    saved, wanted = (comparable(state["config"], runtime), comparable(config, runtime))
    differing = sorted(key for key in saved.keys() | wanted.keys()
                       if saved.get(key) != wanted.get(key))
    if differing:
        raise ConfigChanged(directory, what, "; ".join(
            f"{key}: {_shown(saved.get(key))} then, {_shown(wanted.get(key))} now"
            for key in differing))
    return Checkpoint(directory, state)


def exists(directory: str | Path) -> bool:
    """Whether `directory` holds a checkpoint."""
    directory = Path(directory)
    recover(directory)
    return (directory / STATE_FILE).is_file()


def remove(directory: str | Path) -> None:
    """Delete a checkpoint (the run is finished, or started again)."""
    directory = Path(directory)
    recover(directory)
    shutil.rmtree(directory, ignore_errors=True)


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value)


@dataclass
class Checkpoint:
    directory: Path
    state: dict[str, Any]

    @property
    def progress(self) -> dict[str, Any]:
        return self.state["progress"]

    def tensors(self, group: str) -> dict[str, torch.Tensor] | None:
        """A group of tensors the caller saved, or None if it saved none under that name."""
        if group not in self.state["tensor_groups"]:
            return None
        return self._read(f"{group}.safetensors")

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: Any = None, scaler: Any = None) -> None:
        """Put the weights, optimizer, scheduler and scaler back (not the generators)."""
        try:
            load_model(model, str(self.directory / "model.safetensors"))
        except (SafetensorError, RuntimeError) as error:
            self._damaged("model.safetensors", error)
        optimizer.load_state_dict(torch.load(self.directory / "optimizer.pt",
                                             map_location="cpu", weights_only=True))
        if scheduler is not None:
            scheduler.load_state_dict(self.state["scheduler"])
        if scaler is not None and self.state["scaler"]:
            scaler.load_state_dict(self.state["scaler"])

    def restore_rng(self) -> None:
        """Every global generator as it was when the checkpoint was written: call it last,
        right before the next step (building the model draws from them)."""
        rng = self.state["rng"]
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
        kind, keys, position, has_gauss, cached = rng["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
        states = self._read("rng.safetensors")
        torch.set_rng_state(states["torch"])
        cuda = [states[f"cuda.{i}"] for i in range(len(states) - 1)]
        # On another machine (or device count) the CUDA streams cannot be the same ones.
        if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all(cuda)

    def _read(self, name: str) -> dict[str, torch.Tensor]:
        try:
            return load_file(str(self.directory / name))
        except (SafetensorError, OSError) as error:
            self._damaged(name, error)

    def _damaged(self, name: str, error: Exception) -> Any:
        raise DataFormatError(self.directory / name, None,
                              f"damaged checkpoint file ({str(error).splitlines()[0]})",
                              f"remove {self.directory} to start the run again") from None


def _torch_rng() -> dict[str, torch.Tensor]:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states.update({f"cuda.{i}": state for i, state in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _host_rng() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)]}
