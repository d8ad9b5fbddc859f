"""Controls that show what a similarity value means without parallelism or pretraining.

  shuffled     the same measure on non-parallel pairs: the target rows permuted so that no
               row keeps its partner (a seeded derangement).
  random-init  the same measure on the features of a randomly initialised copy of the model
               (same architecture and tokenizer, the model class's own initialisation).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModel

from alignscope.errors import ConfigError
from alignscope.models.encoder import Encoder


def derangement(count: int, seed: int) -> torch.Tensor:
    """A permutation with no fixed point: a random cycle through all rows."""
    if count < 2:
        raise ConfigError("the shuffled control needs at least 2 sentences")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    permutation = torch.empty(count, dtype=torch.long)
    permutation[order] = order.roll(-1)
    return permutation


def random_init_copy(encoder: Encoder, seed: int,
                     identity: dict[str, Any]) -> tuple[Encoder, dict[str, Any]]:
    """A freshly initialised model of the same configuration, drawn with `seed`.

    Returns it with the identity its features are cached under.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(encoder.model.config)
    model.to(next(encoder.model.parameters()).dtype).eval()
    copy = Encoder(model=model, tokenizer=encoder.tokenizer, name=f"{encoder.name} (random init)",
                   source=encoder.source)
    return copy, {"random_init_of": identity, "seed": seed, "torch": torch.__version__}
