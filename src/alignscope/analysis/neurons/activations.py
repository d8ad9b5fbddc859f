"""Activation probability of every feed-forward neuron on one language's text.

    p[layer, neuron] = (tokens where act(neuron) > 0) / tokens

`act` is the output of the block's feed-forward activation module (models/probes.py): GELU in
a BERT intermediate layer, act_fn(gate) in a Llama/Qwen2/Gemma MLP, before the product with
the up projection (Tang et al.'s `activation.py` reads the same value). Tokens: every content
token of every sentence (special tokens such as BOS left out). Memory: one batch's activations,
reduced to counts inside the hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from alignscope.analysis.texts import forward, text_batches
from alignscope.models.encoder import Encoder
from alignscope.models.probes import ffn_activations, watched


@dataclass
class ActivationCounts:
    over_zero: torch.Tensor  # [layers, neurons] int64
    tokens: int

    @property
    def probability(self) -> torch.Tensor:
        return self.over_zero.double() / max(self.tokens, 1)


def count_activations(encoder: Encoder, texts: Sequence[str], device: torch.device,
                      precision: Callable[[], Any], batch_tokens: int,
                      advance: Callable[[int], None] | None = None) -> ActivationCounts:
    modules = [module for _, module in ffn_activations(encoder.model)]
    counts: torch.Tensor | None = None
    tokens = 0
    keep = torch.zeros(0, dtype=torch.bool)

    def read(layer: int, output: torch.Tensor) -> None:
        nonlocal counts
        if counts is None:
            counts = torch.zeros(len(modules), output.shape[-1], dtype=torch.long)
        counts[layer] += (output[keep] > 0).sum(0).cpu()

    with watched(modules, read):
        for batch in text_batches(encoder, texts, batch_tokens):
            keep = batch.content.to(device)
            tokens += int(batch.content.sum())
            with torch.inference_mode(), precision():
                forward(encoder, batch.input_ids.to(device))
            if advance is not None:
                advance(len(batch.indices))
    assert counts is not None, "no text"
    return ActivationCounts(counts, tokens)
