"""Word-to-subword alignment with the model's fast tokenizer: the one word aligner that task
heads (training) and `--pooling word` (analysis) both read words through.

Anchors. An encoder reads a word on its first subword that carries content: SentencePiece
tokenizers often split a CJK word into a bare boundary piece `▁` followed by the characters,
and that bare piece means nothing. A causal (decoder-only) model reads a word on its LAST
subword: attention only looks back, so the first subword has not seen the rest of the word,
while the last one has seen all of it (and everything before).

Sentences longer than the model's limit are cut into overlapping windows on word boundaries;
every word is read from the window where it has the most context, so no word is ever dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.errors import ConfigError
from alignscope.models.encoder import Encoder

ANCHORS = ("first", "last")  # first content subword (encoders) | last subword (causal models)
# Word-boundary markers of SentencePiece (U+2581) and byte-level BPE (U+0120), and whitespace.
_BOUNDARY_MARKS = "\u2581\u0120 \t\n"


@dataclass(frozen=True)
class EncodedSentence:
    """Subword windows of one sentence and where each word is read from."""

    windows: tuple[tuple[int, ...], ...]  # token ids, special tokens included
    word_window: tuple[int, ...]  # per word: index of the window it is read from
    word_position: tuple[int, ...]  # per word: position of its anchor in that window

    @property
    def num_tokens(self) -> int:
        return sum(len(window) for window in self.windows)

    @property
    def num_words(self) -> int:
        return len(self.word_window)


@dataclass
class AlignmentReport:
    """What alignment had to do, reported in results files."""

    sentences: int = 0
    words: int = 0
    windowed_sentences: int = 0
    extra_windows: int = 0
    empty_words_replaced_by_unk: int = 0
    words_anchored_on_bare_piece: int = 0
    long_words_clipped: int = 0
    max_tokens: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WordAligner:
    """Encodes sentences (lists of words) into windows with one anchor token per word."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_tokens: int,
                 anchor: str = "first") -> None:
        if not tokenizer.is_fast:
            raise ValueError("word alignment needs a fast tokenizer (word_ids)")
        if anchor not in ANCHORS:
            raise ConfigError(f"unknown word anchor {anchor!r}", f"use one of {', '.join(ANCHORS)}")
        self.tokenizer = tokenizer
        self.anchor = anchor
        self.prefix, self.suffix = _special_affixes(tokenizer)
        self.max_tokens = max_tokens
        self.budget = max_tokens - len(self.prefix) - len(self.suffix)
        if self.budget < 2:
            raise ValueError(f"max length {max_tokens} leaves no room for words")
        self.max_word_pieces = max(1, self.budget // 2)
        self._has_content: dict[int, bool] = {}
        self.space_before_words = _unmarked_byte_level(tokenizer)

    def has_content(self, token_id: int) -> bool:
        """False for pieces that only mark a word boundary (`▁`, `Ġ`), whatever the decoder."""
        known = self._has_content.get(token_id)
        if known is None:
            text = self.tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
            piece = str(self.tokenizer.convert_ids_to_tokens(token_id))
            known = bool(text.strip(_BOUNDARY_MARKS)) and bool(piece.strip(_BOUNDARY_MARKS))
            self._has_content[token_id] = known
        return known

    def _as_running_text(self, chunk: list[list[str]]) -> list[list[str]]:
        """A byte-level BPE that does not mark word starts itself (Qwen2, Llama 3, GPT-2 from
        tokenizer.json) would read each pre-split word as if glued to the previous one ('cat'
        instead of 'Ġcat'): words after the first get the space they have in running text."""
        if not self.space_before_words:
            return chunk
        return [[word if i == 0 else f" {word}" for i, word in enumerate(words)]
                for words in chunk]

    def _anchor(self, pieces: list[int]) -> int | None:
        """Offset of the piece a word is read from; None: only bare boundary pieces."""
        if self.anchor == "last":
            return len(pieces) - 1
        return next((i for i, t in enumerate(pieces) if self.has_content(t)), None)

    def encode(self, sentences: Sequence[Sequence[str]],
               chunk_size: int = 1024) -> tuple[list[EncodedSentence], AlignmentReport]:
        report = AlignmentReport(max_tokens=self.max_tokens)
        encoded: list[EncodedSentence] = []
        for start in range(0, len(sentences), chunk_size):
            chunk = [list(words) for words in sentences[start:start + chunk_size]]
            batch = self.tokenizer(self._as_running_text(chunk), is_split_into_words=True,
                                   add_special_tokens=False)
            for index, words in enumerate(chunk):
                pieces = _pieces_per_word(batch["input_ids"][index], batch.word_ids(index),
                                          len(words))
                encoded.append(self._encode_one(words, pieces, report))
        return encoded, report

    def _encode_one(self, words: list[str], pieces: list[list[int]],
                    report: AlignmentReport) -> EncodedSentence:
        report.sentences += 1
        report.words += len(words)
        anchors: list[int] = []  # offset of the anchor piece inside each word
        for position, word_pieces in enumerate(pieces):
            if not word_pieces:
                # The tokenizer dropped the word (e.g. a lone control character): read it as
                # the unknown token rather than losing it.
                word_pieces.append(self.tokenizer.unk_token_id)
                report.empty_words_replaced_by_unk += 1
                if len(report.examples) < 5:
                    report.examples.append(f"no subword for {words[position]!r}")
            if len(word_pieces) > self.max_word_pieces:
                del word_pieces[self.max_word_pieces:]
                report.long_words_clipped += 1
            anchor = self._anchor(word_pieces)
            if anchor is None:
                anchor = 0
                report.words_anchored_on_bare_piece += 1
            anchors.append(anchor)
        spans = _window_spans([len(p) for p in pieces], self.budget)
        if len(spans) > 1:
            report.windowed_sentences += 1
            report.extra_windows += len(spans) - 1
        windows, word_window, word_position = [], [0] * len(words), [0] * len(words)
        best_context = [-1] * len(words)
        for window_index, (first, last) in enumerate(spans):
            ids = list(self.prefix)
            offsets = []
            for word in range(first, last):
                offsets.append(len(ids))
                ids.extend(pieces[word])
            ids.extend(self.suffix)
            content_end = len(ids) - len(self.suffix)
            for word, offset in zip(range(first, last), offsets, strict=True):
                position = offset + anchors[word]
                context = min(position - len(self.prefix), content_end - position)
                if context > best_context[word]:
                    best_context[word] = context
                    word_window[word], word_position[word] = window_index, position
            windows.append(tuple(ids))
        return EncodedSentence(tuple(windows), tuple(word_window), tuple(word_position))


def _unmarked_byte_level(tokenizer: PreTrainedTokenizerBase) -> bool:
    """True when the pre-tokenizer has a ByteLevel step with add_prefix_space off."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    spec = json.loads(backend.to_str()).get("pre_tokenizer") if backend is not None else None
    steps = [spec] if spec else []
    while steps:
        step = steps.pop()
        if step.get("type") == "ByteLevel" and not step.get("add_prefix_space", True):
            return True
        steps.extend(step.get("pretokenizers") or [])
    return False


def _pieces_per_word(ids: list[int], word_ids: list[int | None], n_words: int) -> list[list[int]]:
    pieces: list[list[int]] = [[] for _ in range(n_words)]
    for token_id, word in zip(ids, word_ids, strict=True):
        if word is not None:
            pieces[word].append(token_id)
    return pieces


def _window_spans(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Word spans [first, last) of windows of at most `budget` pieces, overlapping by ~half."""
    if sum(lengths) <= budget:
        return [(0, len(lengths))]
    spans = []
    first = 0
    while True:
        last, used = first, 0
        while last < len(lengths) and used + lengths[last] <= budget:
            used += lengths[last]
            last += 1
        spans.append((first, last))
        if last == len(lengths):
            return spans
        # Next window starts so that it shares about half a window with this one.
        next_first, tail = last, 0
        while next_first - 1 > first and tail + lengths[next_first - 1] <= budget // 2:
            next_first -= 1
            tail += lengths[next_first]
        first = next_first


def _special_affixes(tokenizer: PreTrainedTokenizerBase) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Special tokens the tokenizer puts before and after a single sequence."""
    encoding = tokenizer(["x"], is_split_into_words=True, return_special_tokens_mask=True)
    ids, mask = encoding["input_ids"], encoding["special_tokens_mask"]
    content = [i for i, special in enumerate(mask) if not special]
    if not content:
        raise ValueError("tokenizer produced no content token for 'x'")
    return tuple(ids[: content[0]]), tuple(ids[content[-1] + 1:])


def aligner_for(encoder: Encoder, max_length: int | None = None) -> WordAligner:
    """The aligner `encoder` is read with: last-subword anchors for causal models."""
    return WordAligner(encoder.tokenizer, encoder.max_tokens(max_length),
                       anchor="last" if encoder.is_causal else "first")
