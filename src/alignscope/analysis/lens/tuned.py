"""The tuned lens (Belrose et al. 2023): an affine translator per layer, trained so that the
model's own readout of the translated state matches the model's final next-token distribution.

    tuned(layer, h) = readout(A_layer h + b_layer), A initialised to the identity, b to 0
    loss(layer)     = mean over tokens of KL(p_final || p_tuned(layer)), in nats

The last layer has no translator (its readout IS the final distribution). Training text is
parallel text of every language studied, split by sentence into training and held-out parts
(the same sentences held out in every language, so no translation of a held-out sentence is
trained on); the held-out KL of the logit lens and the tuned lens, per language and layer, is
the lens's evaluation. Tokens: every non-special token of every sentence, up to
`max_tokens` per language; the target distribution is recomputed from the last block's state
for each minibatch (a vocabulary-sized target per token would not fit in memory).

Optimiser: Adam (lr 1e-3, linear decay to 0), minibatches of `batch` tokens drawn with the
seed, all layers updated on the same minibatch. Belrose et al. train with SGD + Nesterov on
far larger batches; Adam converges in few steps at our scale (the held-out KL says how well).

Saved as `tuned-lens.safetensors` (`<layer>.weight`, `<layer>.bias`) + `tuned-lens.json`
(model identity, layers, languages, data, training settings, held-out KL); `load` refuses a
lens trained on another model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional

from alignscope.errors import DataFormatError
from alignscope.io import atomic_directory, atomic_write_json
from alignscope.layer_names import layer_names
from alignscope.models.encoder import Encoder
from alignscope.models.readout import Readout

WEIGHTS = "tuned-lens.safetensors"
META = "tuned-lens.json"
FORMAT = 1
_BITS = 1 / math.log(2)


@dataclass(frozen=True)
class TrainingOptions:
    steps: int = 200
    batch: int = 64  # tokens per step
    lr: float = 1e-3
    seed: int = 0


def model_signature(encoder: Encoder) -> dict[str, Any]:
    """What a tuned lens must match: the architecture and configuration, not the file path."""
    config = encoder.model.config
    return {"class": type(encoder.model).__name__, "hidden_size": encoder.hidden_size,
            "blocks": encoder.num_blocks,
            "config": hashlib.sha256(config.to_json_string().encode()).hexdigest()[:20]}


class TunedLens(nn.Module):
    """Translators for layers 0 .. L-2 (embeddings, block.0, ...); the last is the identity."""

    def __init__(self, hidden: int, states: int) -> None:
        super().__init__()
        self.states = states
        self.translators = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(states - 1))
        with torch.no_grad():
            for translator in self.translators:
                translator.weight.copy_(torch.eye(hidden))
                translator.bias.zero_()

    def translate(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        if layer == self.states - 1:
            return hidden
        translator = self.translators[layer]
        return translator(hidden.to(translator.weight.dtype))

    def save(self, folder: Path, meta: dict[str, Any]) -> None:
        names = layer_names(self.states - 1)
        tensors = {f"{names[i]}.{part}": getattr(t, part).detach().cpu().contiguous()
                   for i, t in enumerate(self.translators) for part in ("weight", "bias")}
        with atomic_directory(folder) as tmp:
            save_file(tensors, str(tmp / WEIGHTS))
            atomic_write_json(tmp / META, {"format": FORMAT, **meta})


def load_tuned_lens(folder: str | Path, encoder: Encoder) -> tuple[TunedLens, dict[str, Any]]:
    folder = Path(folder).expanduser()
    for name in (WEIGHTS, META):
        if not (folder / name).is_file():
            raise DataFormatError(folder, None, f"not a saved tuned lens (no {name})",
                                  "give the tuned-lens folder a lens run wrote")
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    expected = model_signature(encoder)
    if meta.get("model") != expected:
        raise DataFormatError(folder / META, None, f"this tuned lens was trained on another "
                              f"model ({meta.get('model')}; this one is {expected})",
                              "train a tuned lens for this model")
    lens = TunedLens(encoder.hidden_size, encoder.num_blocks + 1)
    tensors = load_file(str(folder / WEIGHTS))
    names = layer_names(encoder.num_blocks)
    with torch.no_grad():
        for index, translator in enumerate(lens.translators):
            for part in ("weight", "bias"):
                getattr(translator, part).copy_(tensors[f"{names[index]}.{part}"])
    return lens, meta


def kl_bits(final_logits: torch.Tensor, lens_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_final || p_lens) per row, in bits."""
    target = functional.log_softmax(final_logits.float(), dim=-1)
    mine = functional.log_softmax(lens_logits.float(), dim=-1)
    return (target.exp() * (target - mine)).sum(-1) * _BITS


def train_tuned_lens(readout: Readout, states: torch.Tensor, options: TrainingOptions,
                     precision: Callable[[], Any], progress: Callable[[], None] | None = None,
                     ) -> tuple[TunedLens, list[float]]:
    """Fit translators on `states` ([layers, tokens, hidden], raw residual stream); returns
    the lens and the mean training KL (bits, over layers) of each step."""
    layers, count, hidden = states.shape
    lens = TunedLens(hidden, layers).to(states.device)
    optimizer = torch.optim.Adam(lens.parameters(), lr=options.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1 - step / max(options.steps, 1))
    generator = torch.Generator().manual_seed(options.seed)
    history = []
    with _frozen(readout), torch.enable_grad():
        for _ in range(options.steps):
            rows = torch.randint(count, (min(options.batch, count),), generator=generator)
            with torch.no_grad(), precision():
                target = functional.log_softmax(readout(states[-1, rows]).float(), dim=-1)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for layer in range(layers - 1):
                with precision():
                    logits = readout(lens.translate(layer, states[layer, rows]))
                mine = functional.log_softmax(logits.float(), dim=-1)
                loss = (target.exp() * (target - mine)).sum(-1).mean()
                loss.backward()
                total += float(loss.detach()) * _BITS
            optimizer.step()
            schedule.step()
            history.append(total / max(layers - 1, 1))
            if progress is not None:
                progress()
    return lens.eval(), history


def heldout_kl(readout: Readout, states: torch.Tensor, lens: TunedLens | None,
               precision: Callable[[], Any], batch: int = 256) -> list[float]:
    """Mean KL(p_final || p_layer) in bits per layer over `states`' tokens: the logit lens
    (`lens` None) or the tuned lens."""
    layers, count, _ = states.shape
    sums = torch.zeros(layers, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, count, batch):
            with precision():
                final = readout(states[-1, start:start + batch])
            for layer in range(layers):
                hidden = states[layer, start:start + batch]
                with precision():
                    logits = readout(hidden if lens is None else lens.translate(layer, hidden))
                sums[layer] += kl_bits(final, logits).double().sum()
    return (sums / count).tolist()


class _frozen:
    """The readout's parameters (the model's) out of the gradient while translators train."""

    def __init__(self, readout: Readout) -> None:
        modules = [m for m in (readout.norm, readout.head) if m is not None]
        self.parameters = [p for module in modules for p in module.parameters()]
        self.saved: list[bool] = []

    def __enter__(self) -> None:
        self.saved = [p.requires_grad for p in self.parameters]
        for parameter in self.parameters:
            parameter.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for parameter, saved in zip(self.parameters, self.saved, strict=True):
            parameter.requires_grad_(saved)


def training_meta(options: TrainingOptions, history: list[float]) -> dict[str, Any]:
    return {**asdict(options), "optimizer": "adam, linear decay",
            "train_kl_bits_first": history[0] if history else None,
            "train_kl_bits_last": history[-1] if history else None}


def batches(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, start + size)
