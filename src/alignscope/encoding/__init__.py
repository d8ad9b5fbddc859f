"""The encoding layer between models and tasks: how sentences become model inputs and how
hidden states become vectors, shared by training (task heads) and analysis (features).

  words      the word aligner (word -> anchor subword, windows for long sentences)
  batching   the batcher (sentence-count and token-budget variants)
  collate    padding and collation (right padding, for encoders and causal models)
  precision  the precision policy (--precision fp32 | bf16 | fp16 | auto)
  pooling    the POOLINGS registry (mean, cls, word, authors, weighted-mean, last, prompt-last)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alignscope.registry import Registry

if TYPE_CHECKING:
    from alignscope.encoding.pooling import Pooling

# Named without importing torch: option validation and --help list them for free.
POOLINGS: Registry[Pooling] = Registry("pooling", {
    name: f"alignscope.encoding.pooling:{attribute}" for name, attribute in (
        ("mean", "MEAN"), ("cls", "CLS"), ("word", "WORD"), ("authors", "AUTHORS"),
        ("weighted-mean", "WEIGHTED_MEAN"), ("last", "LAST"), ("prompt-last", "PROMPT_LAST"))})
