"""Which token positions make up a representation, and how they are pooled.

  mean     mean over the sentence's subword tokens, special tokens excluded (the paper's
           intent); the input is the raw sentence text.
  cls      the first token ([CLS] / <s>) of the raw text.
  word     one row per word: its first subword (words tokenised as given, split into words).
  authors  the released script's input and pooling, reproduced exactly: it tokenises
           "[CLS] text [SEP]" *with* special tokens, so the input starts with two [CLS] and ends
           with two [SEP], then averages positions 1..len-2 -- one [CLS] and one [SEP] stay
           inside the mean. Over `max_tokens` (200) it keeps max_tokens-1 tokens and appends
           encode("[SEP]"), i.e. [CLS] [SEP] [SEP].

Averaged poolings give one row per sentence; the others select positions, one row each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.data.parallel import ParallelCorpus
from alignscope.errors import AlignscopeError, ConfigError

POOLINGS = ("mean", "cls", "word", "authors")


@dataclass(frozen=True)
class EncodedSentence:
    ids: list[int]
    positions: list[int]  # token positions pooled
    average: bool  # True: one row, the mean of `positions`; False: one row per position
    words: list[int] | None = None  # word pooling: the word index of each position
    truncated: bool = False

    @property
    def rows(self) -> int:
        return 1 if self.average else len(self.positions)


def encode_corpus(tokenizer: PreTrainedTokenizerBase, corpus: ParallelCorpus, language: str,
                  pooling: str, max_tokens: int) -> list[EncodedSentence]:
    if pooling == "authors":
        encoded = _encode_authors(tokenizer, corpus.texts[language], max_tokens)
    elif pooling == "word":
        encoded = _encode_words(tokenizer, corpus.words[language], max_tokens)
    else:
        encoded = _encode_texts(tokenizer, corpus.texts[language], max_tokens, pooling)
    for index, sentence in enumerate(encoded):
        if not sentence.positions:
            raise AlignscopeError(
                f"{language} sentence {corpus.ids[index]!r} ({corpus.sources[language]}) gives no "
                f"token to pool with {pooling} pooling; remove it from every language")
    return encoded


def _encode_texts(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_tokens: int,
                  pooling: str) -> list[EncodedSentence]:
    batch = tokenizer(list(texts), truncation=True, max_length=max_tokens,
                      return_special_tokens_mask=True)
    encoded = []
    for ids, special, encoding in zip(batch["input_ids"], batch["special_tokens_mask"],
                                      batch.encodings, strict=True):
        positions = [0] if pooling == "cls" else [i for i, s in enumerate(special) if not s]
        encoded.append(EncodedSentence(ids, positions, pooling == "mean",
                                       truncated=bool(encoding.overflowing)))
    return encoded


def _encode_words(tokenizer: PreTrainedTokenizerBase, words: Sequence[tuple[str, ...]],
                  max_tokens: int) -> list[EncodedSentence]:
    batch = tokenizer([list(w) for w in words], is_split_into_words=True, truncation=True,
                      max_length=max_tokens)
    encoded = []
    for index, ids in enumerate(batch["input_ids"]):
        positions, word_of = [], []
        previous = None
        for position, word in enumerate(batch.word_ids(index)):
            if word is not None and word != previous:
                positions.append(position)
                word_of.append(word)
            previous = word
        encoded.append(EncodedSentence(ids, positions, False, word_of,
                                       truncated=bool(batch.encodings[index].overflowing)))
    return encoded


def _encode_authors(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                    max_tokens: int) -> list[EncodedSentence]:
    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    if cls is None or sep is None:
        raise ConfigError("the authors' pooling needs a tokenizer with CLS and SEP tokens; "
                          "use --pooling mean")
    sep_ids = tokenizer(sep)["input_ids"]
    encoded = []
    for ids in tokenizer([f"{cls} {text} {sep}" for text in texts])["input_ids"]:
        truncated = len(ids) >= max_tokens
        if truncated:
            ids = ids[:max_tokens - 1] + sep_ids
        encoded.append(EncodedSentence(ids, list(range(1, len(ids) - 1)), True,
                                       truncated=truncated))
    return encoded


def pool_batch(states: Sequence[Tensor], batch: Sequence[EncodedSentence],
               device: torch.device) -> Tensor:
    """[layers, rows, dim] from the hidden states ([batch, tokens, dim] per layer)."""
    width = states[0].shape[1]
    if batch[0].average:
        weights = torch.zeros(len(batch), 1, width, dtype=torch.float32)
        for row, sentence in enumerate(batch):
            weights[row, 0, sentence.positions] = 1.0 / len(sentence.positions)
        weights = weights.to(device)  # built on the CPU: one transfer per batch
        return torch.stack([torch.bmm(weights, state.float()).squeeze(1) for state in states])
    rows = torch.tensor([row for row, s in enumerate(batch) for _ in s.positions], device=device)
    columns = torch.tensor([p for s in batch for p in s.positions], device=device)
    return torch.stack([state[rows, columns].float() for state in states])
