"""Which token positions make up a representation, and how they are pooled (each pooling is
named in the POOLINGS registry of alignscope.encoding). Every pooling yields, per sentence,
the token windows to run and a sparse pooling matrix: output row <- weighted sum of (window,
position) hidden states.

Encoders:
  mean          masked mean over the sentence's subwords, special tokens excluded (the paper's
                intent); the input is the raw sentence text.
  cls           the first token ([CLS] / <s>).
  word          one row per word, read where the task heads read it (`encoding.words`): the
                first content subword, or the last subword on a causal model; long sentences
                are windowed, no word dropped.
  authors       the released script's input and pooling, exactly: it tokenises
                "[CLS] text [SEP]" *with* special tokens (two [CLS], two [SEP]) and averages
                positions 1..len-2, so one [CLS] and one [SEP] stay inside the mean. Over
                `max_tokens` (200) it keeps max_tokens-1 tokens and appends encode("[SEP]").
Causal (decoder-only) models:
  weighted-mean position-weighted mean over every input token, the i-th (1-based) weighted
                i / sum(1..n) (SGPT; MEXA's "weighted" embedding): later tokens have seen more.
  last          the last input token, the only one that has seen the whole sentence.
  prompt-last   the last token of a prompt built from `--prompt-template`, whose `{sentence}`
                is replaced by the sentence (e.g. 'This sentence: "{sentence}" means in one
                word:').
`mean` on a causal model is the masked mean of its tokens (BOS and other specials excluded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.errors import ConfigError
from alignscope.models.encoder import Encoder

SENTENCE_SLOT = "{sentence}"


@dataclass(frozen=True)
class PooledInput:
    """One sentence: its token windows and which weighted positions form each output row."""

    windows: tuple[tuple[int, ...], ...]
    window: tuple[int, ...]  # per pooled position: its window
    position: tuple[int, ...]  # per pooled position: its token position in that window
    weight: tuple[float, ...]  # per pooled position
    row: tuple[int, ...]  # per pooled position: the output row (0 .. rows-1) it adds to
    rows: int
    words: tuple[int, ...] | None = None  # word pooling: the word of each row
    truncated: bool = False

    @property
    def num_tokens(self) -> int:
        return sum(len(window) for window in self.windows)


@dataclass(frozen=True)
class Sentences:
    """What a pooling may read: the raw texts and the word lists of one language."""

    texts: Sequence[str]
    words: Sequence[Sequence[str]]


@dataclass(frozen=True)
class PoolingContext:
    encoder: Encoder
    max_tokens: int
    prompt_template: str | None = None

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.encoder.tokenizer


Encode = Callable[[PoolingContext, Sentences], list[PooledInput]]


@dataclass(frozen=True)
class Pooling:
    name: str
    encode: Encode


def _single(ids: Sequence[int], positions: Sequence[int], weights: Sequence[float],
            truncated: bool) -> PooledInput:
    return PooledInput((tuple(ids),), (0,) * len(positions), tuple(positions), tuple(weights),
                       (0,) * len(positions), 1, truncated=truncated)


def _tokenise(context: PoolingContext, texts: Sequence[str]) -> list[tuple[list[int], list[int],
                                                                          bool]]:
    """(ids, special-token mask, truncated) of each text, cut at the token limit."""
    batch = context.tokenizer(list(texts), truncation=True, max_length=context.max_tokens,
                              return_special_tokens_mask=True)
    return [(ids, special, bool(encoding.overflowing)) for ids, special, encoding in
            zip(batch["input_ids"], batch["special_tokens_mask"], batch.encodings, strict=True)]


def _positional(choose: Callable[[list[int], list[int]], tuple[list[int], list[float]]]) -> Encode:
    """A one-row pooling over the raw text, `choose(ids, special) -> (positions, weights)`."""

    def encode(context: PoolingContext, sentences: Sentences) -> list[PooledInput]:
        return [_single(ids, *choose(ids, special), truncated)
                for ids, special, truncated in _tokenise(context, sentences.texts)]

    return encode


def _mean(ids: list[int], special: list[int]) -> tuple[list[int], list[float]]:
    positions = [i for i, s in enumerate(special) if not s]
    return positions, [1.0 / len(positions)] * len(positions) if positions else []


def _weighted_mean(ids: list[int], special: list[int]) -> tuple[list[int], list[float]]:
    total = len(ids) * (len(ids) + 1) / 2
    return list(range(len(ids))), [(i + 1) / total for i in range(len(ids))]


# The poolings, each named in the POOLINGS registry (alignscope.encoding).
MEAN = Pooling("mean", _positional(_mean))
CLS = Pooling("cls", _positional(lambda ids, special: ([0], [1.0])))
WEIGHTED_MEAN = Pooling("weighted-mean", _positional(_weighted_mean))
LAST = Pooling("last", _positional(lambda ids, special: ([len(ids) - 1], [1.0])))


def _prompt_last(context: PoolingContext, sentences: Sentences) -> list[PooledInput]:
    template = check_prompt_template("prompt-last", context.prompt_template)
    assert template is not None
    prompts = [template.replace(SENTENCE_SLOT, text) for text in sentences.texts]
    return [_single(ids, [len(ids) - 1], [1.0], truncated)
            for ids, _, truncated in _tokenise(context, prompts)]


PROMPT_LAST = Pooling("prompt-last", _prompt_last)


def _word(context: PoolingContext, sentences: Sentences) -> list[PooledInput]:
    from alignscope.encoding.words import aligner_for

    aligner = aligner_for(context.encoder, context.max_tokens)
    encoded, _ = aligner.encode(sentences.words)
    return [PooledInput(item.windows, item.word_window, item.word_position,
                        (1.0,) * item.num_words, tuple(range(item.num_words)), item.num_words,
                        words=tuple(range(item.num_words)))
            for item in encoded]


WORD = Pooling("word", _word)


def _authors(context: PoolingContext, sentences: Sentences) -> list[PooledInput]:
    tokenizer = context.tokenizer
    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    if cls is None or sep is None:
        raise ConfigError("the authors' pooling needs a tokenizer with CLS and SEP tokens; "
                          "use --pooling mean")
    sep_ids = tokenizer(sep)["input_ids"]
    encoded = []
    for ids in tokenizer([f"{cls} {text} {sep}" for text in sentences.texts])["input_ids"]:
        truncated = len(ids) >= context.max_tokens
        if truncated:
            ids = ids[:context.max_tokens - 1] + sep_ids
        inner = list(range(1, len(ids) - 1))
        encoded.append(_single(ids, inner, [1.0 / len(inner)] * len(inner), truncated))
    return encoded


AUTHORS = Pooling("authors", _authors)


def check_prompt_template(pooling: str, template: str | None) -> str | None:
    """The template if `pooling` needs one and it is well-formed; a ConfigError otherwise."""
    if pooling != "prompt-last":
        if template is not None:
            raise ConfigError("--prompt-template is read only by --pooling prompt-last")
        return None
    if template is None or template.count(SENTENCE_SLOT) != 1:
        raise ConfigError("--pooling prompt-last needs --prompt-template with {sentence} exactly "
                          "once, e.g. --prompt-template 'This sentence: \"{sentence}\" means "
                          "in one word:'")
    return template


def pooling_matrix(batch: Sequence[PooledInput], width: int,
                   ) -> tuple[Tensor, Tensor, Tensor, int]:
    """(flat token index into [windows * width], weight, output row) of every pooled position
    of a collated batch, and the batch's number of output rows."""
    flat, weights, rows = [], [], []
    first_window = first_row = 0
    for item in batch:
        flat.extend((first_window + w) * width + p for w, p in zip(item.window, item.position,
                                                                    strict=True))
        weights.extend(item.weight)
        rows.extend(first_row + r for r in item.row)
        first_window += len(item.windows)
        first_row += item.rows
    return (torch.tensor(flat, dtype=torch.long), torch.tensor(weights, dtype=torch.float32),
            torch.tensor(rows, dtype=torch.long), first_row)


def pool(states: Sequence[Tensor], flat: Tensor, weights: Tensor, rows: Tensor,
         count: int) -> Tensor:
    """[layers, rows, dim] float32 from the hidden states ([windows, tokens, dim] per layer).
    Each layer's pooled positions are gathered, weighted and summed straight into its slice
    of the output, in float32 (bf16 states are cast first): no stacked copy of every layer's
    states, which cost more than the pooling itself (see BENCHMARKS.md, issue 8)."""
    out = torch.zeros(len(states), count, states[0].shape[-1], device=flat.device)
    scale = weights[:, None]
    for layer, state in enumerate(states):
        gathered = state.flatten(0, 1).index_select(0, flat).float().mul_(scale)
        out[layer].index_add_(0, rows, gathered)
    return out
