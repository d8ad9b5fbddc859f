"""Pretraining batches and the held-out score, for both objectives.

Batches are drawn epoch by epoch, without replacement, from (seed, epoch): the epoch's
sentences in random order are sorted by length (stably, so sentences of one length stay in
random order), cut into batches of about the same number of tokens (`batch_size` sentences of
the mean length: more short sentences, fewer long ones) and the batches shuffled. A batch
then holds sentences of one length (rarely two), so almost no position is padding and
attention needs no mask (a randomly drawn batch is about half padding at the lab's sentence
lengths), and every step learns from as many tokens. Masks (mlm) are drawn from (seed, step)
on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast

IGNORED = -100  # the label of a position the loss skips (the transformers convention)


class Batches:
    """Tokenised sentences of all languages; `batch(step)` is fixed by (seed, step). Labels are
    the masked tokens (mlm) or every real token (clm; the loss shifts them)."""

    def __init__(self, ids: list[list[int]], tokenizer: PreTrainedTokenizerFast, *,
                 objective: str, batch_size: int, seed: int, mask_prob: float) -> None:
        self.ids = ids
        self.lengths = np.array([len(row) for row in ids])
        self.objective, self.batch_size = objective, batch_size
        self.seed, self.mask_prob = seed, mask_prob
        self.pad = tokenizer.pad_token_id
        self.mask = tokenizer.mask_token_id
        self.specials = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.vocab = len(tokenizer)
        self.sizes = _cut(np.sort(self.lengths), batch_size * float(self.lengths.mean()))
        self.per_epoch = len(self.sizes)
        self._epoch: tuple[int, list[np.ndarray]] = (-1, [])

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The sentence indices of each batch of an epoch, in training order."""
        if self._epoch[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.ids))
            order = order[np.argsort(self.lengths[order], kind="stable")]
            ends = np.cumsum(self.sizes)
            cut = [order[end - size:end] for size, end in zip(self.sizes, ends, strict=True)]
            self._epoch = (epoch, [cut[i] for i in rng.permutation(len(cut))])
        return self._epoch[1]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(inputs, attention mask or None when nothing is padding, labels) of a step."""
        picked = self.epoch(step // self.per_epoch)[step % self.per_epoch]
        input_ids, attention = self.padded([self.ids[i] for i in picked])
        inputs, labels = self.labels(input_ids, attention, self.seed * 1_000_003 + step)
        return inputs, None if bool(attention.all()) else attention, labels

    def padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        for index, row in enumerate(rows):
            input_ids[index, :len(row)] = torch.tensor(row)
        return input_ids, (input_ids != self.pad).long()

    def labels(self, input_ids: torch.Tensor, attention: torch.Tensor, seed: int,
               mask_prob: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels) of a padded batch: masked (mlm; `mask_prob` of the tokens, by
        default the training's), or the tokens themselves (clm)."""
        if self.objective == "mlm":
            return self.masked(input_ids, seed, mask_prob or self.mask_prob)
        return input_ids, input_ids.masked_fill(attention == 0, IGNORED)

    def masked(self, input_ids: torch.Tensor, seed: int,
               mask_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT masking: mask_prob of the real tokens; 80% [MASK], 10% random, 10% kept."""
        generator = torch.Generator().manual_seed(seed)
        labels = input_ids.clone()
        maskable = ~torch.isin(input_ids, self.specials)
        chosen = (torch.rand(input_ids.shape, generator=generator) < mask_prob) & maskable
        labels[~chosen] = IGNORED
        draw = torch.rand(input_ids.shape, generator=generator)
        inputs = input_ids.clone()
        inputs[chosen & (draw < 0.8)] = self.mask
        randomised = chosen & (draw >= 0.8) & (draw < 0.9)
        inputs[randomised] = torch.randint(self.vocab, input_ids.shape,
                                           generator=generator)[randomised]
        return inputs, labels


def _cut(lengths: np.ndarray, budget: float) -> list[int]:
    """Batch sizes over sentences sorted by length: as many as fit `budget` padded tokens
    (at least one)."""
    sizes, start = [], 0
    while start < len(lengths):
        end = start + 1
        while end < len(lengths) and (end + 1 - start) * lengths[end] <= budget:
            end += 1
        sizes.append(end - start)
        start = end
    return sizes


HELDOUT_MASK_PROB = 0.15  # BERT's: held-out scores stay comparable whatever the training's
HELDOUT_MASKINGS = 2  # masks per held-out sentence: twice the tokens scored (mlm)


@dataclass
class HeldOut:
    """A language's held-out batches, masked once for the whole run (mlm: each sentence
    `HELDOUT_MASKINGS` times, 15 % of its tokens each) so that every score along the training
    curve is of the same tokens."""

    batches: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]

    @classmethod
    def build(cls, ids: list[list[int]], batches: Batches, seed: int, size: int) -> HeldOut:
        ordered = sorted(ids, key=len)  # neighbours in length: little padding
        built = []
        for masking in range(HELDOUT_MASKINGS if batches.objective == "mlm" else 1):
            for start in range(0, len(ordered), size):
                input_ids, attention = batches.padded(ordered[start:start + size])
                inputs, labels = batches.labels(input_ids, attention,
                                                seed + masking * len(ordered) + start,
                                                HELDOUT_MASK_PROB)
                built.append((inputs, None if bool(attention.all()) else attention, labels))
        return cls(built)
