"""The options of `alignscope lab pretrain` (light: the pretraining code imports torch and
transformers; these do not)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from alignscope.config import (
    DEFAULT_SEED,
    Count,
    Device,
    Flag,
    Folder,
    Fraction,
    Languages,
    NonNegativeFloat,
    OpenUnit,
    Overwrite,
    Rate,
    Seed,
    Text,
    options,
)

Objective = Literal["mlm", "clm"]
Schedule = Literal["linear", "cosine"]


@options(frozen=True)
class PretrainConfig:
    """What `alignscope lab pretrain` trains."""

    corpus: Annotated[Text, Flag(metavar="DIR")] = Field(
        description="A `lab generate` folder (or any folder with text/LANG.train.txt files).")
    objective: Objective = Field("mlm", description="mlm: a BERT, trained to predict masked "
                                 "tokens; clm: a Llama-style decoder, trained to predict the "
                                 "next token.")
    languages: Languages | None = Field(None, description="Pretrain on these languages only "
                                    "(default: all; the tokenizer still covers all).")
    tokenizer: Annotated[str, Flag(metavar="DIR")] | None = Field(
        None, description="Reuse this model folder's tokenizer (default: train a WordPiece one on every "
                           "language).")
    vocab_size: Count = Field(4000, description="WordPiece vocabulary size.")
    num_blocks: Annotated[Count, Flag(old_names=("layers",))] = Field(
        4, description="Transformer blocks.")
    hidden: Count = Field(128, description="Hidden size.")
    heads: Count | None = Field(None, description="Attention heads (default: hidden/64, at "
                                "least 2).")
    kv_heads: Count | None = Field(None, description="clm: key/value heads, dividing --heads "
                                   "(grouped-query attention; default: one per head).")
    intermediate: Count | None = Field(None, description="MLP width (default: 4 x hidden; "
                                       "clm's SwiGLU: 8/3 x hidden, rounded up to 32).")
    max_length: Count = Field(128, description="Positions; longer sentences are truncated.")
    dropout: Fraction = Field(0.1, description="mlm: hidden and attention dropout; clm: "
                              "attention dropout.")
    steps: Count = Field(2000, description="Optimizer updates.")
    batch_size: Count = Field(64, description="Sentences per update, on average: each batch "
                              "holds about as many tokens as this many sentences of the mean "
                              "length (more short sentences, fewer long ones).")
    lr: Rate = Field(1e-3, description="Peak learning rate (after a linear warm-up).")
    warmup_ratio: Fraction = Field(0.05, description="Share of the updates that warm the "
                                   "learning rate up.")
    schedule: Schedule = Field("linear", description="How the learning rate decays to 0 "
                               "after warm-up: linear, or cosine (lower sooner: the last "
                               "updates refine rather than still learn).")
    weight_decay: NonNegativeFloat = Field(0.01, description="AdamW weight decay.")
    mask_prob: OpenUnit = Field(0.15, description="mlm: share of the tokens masked.")
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the weights, the batches and the "
                       "masks.")
    save_every: Count = Field(500, description="Updates between resumable checkpoints.")
    log_every: Count = Field(50, description="Updates between loss readings.")
    curve_points: Count = Field(20, description="Held-out accuracy is measured this many "
                                "times, evenly spaced (the convergence curve).")
    threads: Count | None = Field(None, description="CPU threads for torch (default: torch's "
                                  "choice).")
    device: Device = Field("auto", description="auto, cpu, cuda, cuda:N or mps.")

    @model_validator(mode="after")
    def _shapes(self) -> PretrainConfig:
        if self.hidden % self.num_heads:
            raise ValueError(f"--hidden {self.hidden} is not divisible by --heads "
                             f"{self.num_heads}: choose heads that divide the hidden size")
        if self.kv_heads is not None and self.objective != "clm":
            raise ValueError("--kv-heads applies to --objective clm only (a BERT has one key/"
                             "value head per attention head): drop it or add --objective clm")
        if self.kv_heads is not None and self.num_heads % self.kv_heads:
            raise ValueError(f"--kv-heads {self.kv_heads} must divide --heads {self.num_heads}")
        return self

    @property
    def num_heads(self) -> int:
        return self.heads or max(2, self.hidden // 64)

    @property
    def intermediate_size(self) -> int:
        if self.intermediate:
            return self.intermediate
        if self.objective == "mlm":
            return 4 * self.hidden
        # SwiGLU has three matrices: 8/3 x hidden matches a 4 x hidden MLP's parameters.
        return 32 * math.ceil(8 * self.hidden / 3 / 32)

    def identity(self) -> str:
        """What a resumed run must share with the interrupted one: the options that shape the
        model (not threads, device, when to save or score) and the training procedure's
        version. Options added later count only when set (`_LATER`)."""
        fields = {k: v for k, v in dataclasses.asdict(self).items()
                  if k not in ("threads", "device", "save_every", "curve_points")
                  and not (k in _LATER and v == _LATER[k])}
        fields["layers"] = fields.pop("num_blocks")  # the identity's key predates the name
        fields["recipe"] = RECIPE
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


_LATER = {"objective": "mlm", "kv_heads": None, "schedule": "linear"}
# The training procedure's version: a checkpoint of another one would resume into a model
# no uninterrupted run gives. 2: length-bucketed epochs of token-budget batches (was: batches
# drawn with replacement).
RECIPE = 2
PLATEAU = 1.0  # points of held-out accuracy the last fifth of the steps may add: converged


@options(frozen=True)
class PretrainOutput(Overwrite):
    out: Folder = Field(description="Output folder: a Hugging Face model folder (use it as "
                      "--model) with pretrain.json and the loss curve.")
