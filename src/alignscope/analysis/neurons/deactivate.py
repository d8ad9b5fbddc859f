"""Perplexity of a language's text with chosen neurons silenced (Tang et al. §3: deactivating
a language's neurons raises the perplexity of that language much more than of the others).

    decoder  exp(mean negative log-likelihood of every content token given the ones before;
             the first is predicted from BOS when the tokenizer adds one)
    encoder  pseudo-perplexity of a masked LM: `mask_rate` of each sentence's content tokens
             (at least one) replaced by the mask token, with a seeded draw, and predicted

Silencing zeroes the activation outputs of the chosen neurons (models/probes.py `silenced`).
Logits are computed by the model's own readout (models/readout.py) from the last block's
output at the predicted positions, a chunk of positions at a time, so a large vocabulary never
needs [batch, tokens, vocab] at once; `check_readout` verifies on the first batch that this
equals the model's own logits.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional

from alignscope.analysis.texts import forward, text_batches
from alignscope.models.encoder import Encoder
from alignscope.models.probes import at, layer_states, silenced
from alignscope.models.readout import Readout, check_readout

_CHUNK = 256  # positions read out at once


@dataclass(frozen=True)
class Scored:
    """A batch prepared for scoring: inputs, and which positions predict which tokens."""

    input_ids: torch.Tensor  # [batch, tokens], masked for an MLM
    rows: torch.Tensor  # [predictions]
    positions: torch.Tensor  # [predictions] where the prediction is read
    targets: torch.Tensor  # [predictions] the token to predict


def prepare(encoder: Encoder, texts: Sequence[str], batch_tokens: int, mask_rate: float,
            seed: int) -> list[Scored]:
    """The scored batches of `texts`, built once and reused for every silencing."""
    prepared = []
    generator = torch.Generator().manual_seed(seed)
    for batch in text_batches(encoder, texts, batch_tokens):
        ids, content = batch.input_ids, batch.content
        if encoder.is_causal:
            follows = content[:, 1:]  # position t predicts token t + 1
            rows, positions = torch.nonzero(follows, as_tuple=True)
            prepared.append(Scored(ids, rows, positions, ids[rows, positions + 1]))
            continue
        draw = torch.rand(content.shape, generator=generator) < mask_rate
        draw &= content
        for row in range(ids.shape[0]):  # at least one masked token per sentence
            if not draw[row].any():
                choices = torch.nonzero(content[row]).flatten()
                pick = torch.randint(len(choices), (1,), generator=generator)
                draw[row, choices[pick]] = True
        rows, positions = torch.nonzero(draw, as_tuple=True)
        masked = ids.clone()
        masked[rows, positions] = encoder.tokenizer.mask_token_id
        prepared.append(Scored(masked, rows, positions, ids[rows, positions]))
    return prepared


def perplexity(encoder: Encoder, readout: Readout, batches: Sequence[Scored],
               device: torch.device, precision: Callable[[], Any],
               silence: tuple[Sequence[torch.nn.Module], Sequence[torch.Tensor]] | None = None,
               check: bool = False) -> float:
    """exp(mean NLL) over every prediction of `batches`, with `silence` (modules, neuron
    indices per layer) applied; `check` compares the readout with the model's logits first."""
    total, count = 0.0, 0
    context = silenced(*silence) if silence is not None else contextlib.nullcontext()
    with context, torch.inference_mode():
        for index, batch in enumerate(batches):
            rows, positions = batch.rows.to(device), batch.positions.to(device)
            ids = batch.input_ids.to(device)
            with precision(), layer_states(encoder.model, at(rows, positions)) as states:
                forward(encoder, ids)
            last = states[-1]
            if check and index == 0:
                _check(encoder, readout, ids, rows, positions, last, precision)
            targets = batch.targets.to(device)
            for start in range(0, len(targets), _CHUNK):
                with precision():
                    logits = readout(last[start:start + _CHUNK])
                total += float(functional.cross_entropy(logits.float(),
                                                        targets[start:start + _CHUNK],
                                                        reduction="sum"))
            count += len(targets)
    return math.exp(total / max(count, 1))


def _check(encoder: Encoder, readout: Readout, ids: torch.Tensor, rows: torch.Tensor,
           positions: torch.Tensor, last: torch.Tensor, precision: Callable[[], Any]) -> None:
    """The readout at the first prediction equals the model's own logits there."""
    row, position = int(rows[0]), int(positions[0])
    with precision():
        own = forward(encoder, ids[row:row + 1], lm=True).logits[:, position]
    tolerance = 1e-3 if next(encoder.model.parameters()).dtype == torch.float32 else 3e-2
    check_readout(readout, last[:1], own, encoder.name, tolerance)


def random_like(counts: Sequence[int], neurons: int,
                generator: torch.Generator) -> list[torch.Tensor]:
    """As many random neurons per layer as `counts` (the control)."""
    return [torch.randperm(neurons, generator=generator)[:count].sort().values
            for count in counts]
