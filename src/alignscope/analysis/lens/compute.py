"""Running the lenses: the residual stream at every layer, read out at the prompts' answer
positions (items) or at every token (sentences, to train the tuned lens).

Prompts are batched only with prompts of the same length, so no batch holds a padding token:
each prompt is computed exactly as it would be alone (no attention-mask or position subtlety
for any architecture). Only [layers, positions, hidden] is kept per batch (models/probes.py).

Per item, lens and layer: the probability mass of the target answer's tokens and of each
latent language's answer tokens, the rank of the most probable answer token (1 = top), the
entropy of the whole next-token distribution (bits), and the top token. `check_readout`
compares, for every batch, the readout of the last block's output with the model's own logits.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn import functional

from alignscope.analysis.intervals import summary
from alignscope.analysis.lens.tasks import LensItem, TaskSpec
from alignscope.analysis.lens.tuned import TunedLens
from alignscope.analysis.texts import forward, text_batches
from alignscope.encoding.batching import unpadded_batches
from alignscope.models.encoder import Encoder
from alignscope.models.probes import at, layer_states, where
from alignscope.models.readout import Readout, check_readout

Precision = Callable[[], Any]  # a fresh autocast context (encoding/precision.py)
_LN2 = math.log(2)


def _forward(encoder: Encoder, ids: torch.Tensor, positions: torch.Tensor,
             device: torch.device, precision: Precision) -> tuple[torch.Tensor, torch.Tensor]:
    """(states [layers, batch, d] at `positions`, the model's own logits there [batch, V])."""
    rows = torch.arange(ids.shape[0], device=device)
    positions = positions.to(device)
    lm = encoder.lm
    assert lm is not None
    ids = ids.to(device)
    with torch.inference_mode(), precision(), \
            layer_states(encoder.model, at(rows, positions)) as captured:
        if encoder.is_causal:
            keep = "logits_to_keep" in inspect.signature(lm.forward).parameters
            output = forward(encoder, ids, lm=True, **({"logits_to_keep": 1} if keep else {}))
            own = output.logits[:, -1] if keep else output.logits[rows, positions]
        else:  # a masked LM: its head applied to the base model's output at the positions
            output = forward(encoder, ids)
            own = _mlm_logits(lm, output.last_hidden_state[rows, positions])
    return torch.stack(captured), own


def _mlm_logits(lm: Any, hidden: torch.Tensor) -> torch.Tensor:
    heads = [child for child in lm.children() if child is not lm.base_model
             and any(True for _ in child.parameters())]
    return heads[0](hidden)


def item_values(logits: torch.Tensor, items: Sequence[LensItem]) -> list[dict[str, Any]]:
    """Per item (rows of `logits`): target/latent probability and rank, entropy, top token."""
    logp = functional.log_softmax(logits.float(), dim=-1)
    probs = logp.exp()
    entropy = -(probs * logp).sum(-1) / _LN2
    top = probs.argmax(-1)
    values = []
    for row, item in enumerate(items):
        answers = {"target": item.target_ids,
                   **{f"latent.{lang}": ids for lang, ids in item.latent_ids.items()},
                   **{f"control.{lang}": ids for lang, ids in item.control_ids.items()}}
        record: dict[str, Any] = {"entropy": float(entropy[row]), "top_token": int(top[row])}
        for name, ids in answers.items():
            chosen = probs[row, ids]
            record[f"{name}.prob"] = float(chosen.sum())
            record[f"{name}.rank"] = 1 + int((probs[row] > chosen.max()).sum())
        values.append(record)
    return values


def run_items(encoder: Encoder, readout: Readout, items: list[LensItem],
              lenses: dict[str, TunedLens | None], device: torch.device, precision: Precision,
              batch_tokens: int, advance: Callable[[int], None] | None = None) -> float:
    """Fill every item's `values` (lens -> metric -> one value per layer); returns the largest
    relative difference between the readout of the last layer and the model's logits."""
    worst = 0.0
    tolerance = 1e-3 if next(encoder.model.parameters()).dtype == torch.float32 else 3e-2
    for batch in unpadded_batches([len(item.input_ids) for item in items], batch_tokens):
        chosen = [items[i] for i in batch]
        ids = torch.tensor([item.input_ids for item in chosen])
        positions = torch.tensor([item.position for item in chosen])
        states, own = _forward(encoder, ids, positions, device, precision)
        with torch.inference_mode():
            worst = max(worst, check_readout(readout, states[-1], own, encoder.name, tolerance))
            for name, tuned in lenses.items():
                per_layer = []
                for layer in range(states.shape[0]):
                    hidden = states[layer] if tuned is None else tuned.translate(layer, states[layer])
                    with precision():
                        logits = readout(hidden)
                    per_layer.append(item_values(logits, chosen))
                for row, item in enumerate(chosen):
                    records = [layer_values[row] for layer_values in per_layer]
                    item.values[name] = {key: [record[key] for record in records]
                                         for key in records[0]}
        if advance is not None:
            advance(len(batch))
    return worst


def sentence_states(encoder: Encoder, texts: Sequence[str], device: torch.device,
                    precision: Precision, batch_tokens: int, max_tokens: int) -> torch.Tensor:
    """[layers, tokens, d]: the residual stream at every content token of the texts, until
    `max_tokens` tokens (float32, on the CPU)."""
    parts: list[torch.Tensor] = []
    for batch in text_batches(encoder, texts, batch_tokens, max_tokens):
        keep = batch.content.to(device)
        with torch.inference_mode(), precision(), \
                layer_states(encoder.model, where(keep)) as captured:
            forward(encoder, batch.input_ids.to(device))
        parts.append(torch.stack(captured).float().cpu())
    return torch.cat(parts, dim=1)[:, :max_tokens]


def curves(items: Sequence[LensItem], specs: Sequence[TaskSpec], lenses: Sequence[str],
           confidence: float) -> dict[str, dict[str, dict[str, dict[str, list[Any]]]]]:
    """lens -> task spec -> metric -> {mean, low, high, n}: one value per layer. Metrics:
    target.prob, target.rr (reciprocal rank), latent.<lang>.prob, latent.<lang>.rr,
    control.<lang>.prob, control.<lang>.rr, entropy."""
    result: dict[str, dict[str, dict[str, dict[str, list[Any]]]]] = {}
    for lens in lenses:
        result[lens] = {}
        for spec in specs:
            chosen = [item for item in items if (item.task, item.source, item.target)
                      == (spec.task, spec.source, spec.target)]
            if not chosen:
                continue
            result[lens][spec.key] = _spec_curves([item.values[lens] for item in chosen],
                                                  confidence)
    return result


def _spec_curves(values: list[dict[str, list[Any]]], confidence: float,
                 ) -> dict[str, dict[str, list[Any]]]:
    """Per metric, over the items that have it (an item may have no control word)."""
    layers = len(values[0]["entropy"])
    out: dict[str, dict[str, list[Any]]] = {}
    for key in dict.fromkeys(key for v in values for key in v):
        if key == "top_token":
            continue
        reciprocal = key.endswith(".rank")
        metric = key.removesuffix(".rank") + ".rr" if reciprocal else key
        having = [v[key] for v in values if key in v]
        columns = [summary([1.0 / v[k] if reciprocal else v[k] for v in having], confidence)
                   for k in range(layers)]
        out[metric] = {field: [column[field] for column in columns]
                       for field in ("mean", "low", "high", "n")}
    return out
