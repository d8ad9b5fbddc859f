"""Plain sentences as model inputs for the per-token analyses (tuned lens, neurons, perplexity):
tokenised with the model's special tokens, batched without padding (encoding/batching.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from alignscope.encoding.batching import unpadded_batches
from alignscope.models.encoder import Encoder


@dataclass(frozen=True)
class TextBatch:
    indices: list[int]  # the texts in this batch
    input_ids: torch.Tensor  # [batch, tokens], no padding
    content: torch.Tensor  # [batch, tokens] bool: not a special token (BOS, [CLS], [SEP])


def text_batches(encoder: Encoder, texts: Sequence[str], batch_tokens: int,
                 max_tokens: int | None = None) -> Iterator[TextBatch]:
    """The texts (cut at the model's length limit) in unpadded batches; with `max_tokens`,
    only the first texts holding that many content tokens."""
    encoded = encoder.tokenizer(list(texts), truncation=True, max_length=encoder.max_tokens(None),
                                return_special_tokens_mask=True)
    ids, special = encoded["input_ids"], encoded["special_tokens_mask"]
    chosen, total = [], 0
    for index, mask in enumerate(special):
        if max_tokens is not None and total >= max_tokens:
            break
        chosen.append(index)
        total += len(mask) - sum(mask)
    for batch in unpadded_batches([len(ids[i]) for i in chosen], batch_tokens):
        indices = sorted(chosen[i] for i in batch)
        yield TextBatch(indices, torch.tensor([ids[i] for i in indices]),
                        torch.tensor([[not s for s in special[i]] for i in indices]))


def forward(encoder: Encoder, input_ids: torch.Tensor, *, lm: bool = False,
            **extra: Any) -> Any:
    """One unpadded forward pass of the base model (or of the whole LM, with `lm`); a decoder
    builds no key/value cache, which nothing here reads."""
    model = encoder.lm if lm else encoder.model
    assert model is not None, "the model was loaded without its LM head"
    no_cache = {"use_cache": False} if encoder.is_causal else {}
    return model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **no_cache,
                 **extra)
