"""Which tokens count as a word's answer, for any tokenizer.

Rule `prefixes` (the default; Wendler et al. 2024's `process_tokens`): a word's answer tokens
are every vocabulary token whose text is a non-empty prefix of the word, with or without a
leading word-start marker (`▁` in SentencePiece, `Ġ` in byte-level BPE, no `##` in WordPiece):
for `fleur` the tokens `f`, `fl`, `▁fle`, `fleur`, ... that exist. A byte token (byte-level
BPE, or SentencePiece byte fallback `<0xE8>`) counts when its bytes begin the word's UTF-8
bytes, which gives Chinese and Russian words their first-byte token as the paper does. The
answer's probability is the sum over these tokens; its rank is that of the most probable one.
This covers multi-token answers through their first token, whichever way the tokenizer
starts them.

Rule `first`: only the first token of the answer as the tokenizer writes it after the prompt
(`tokenizer(prompt + word)` minus `tokenizer(prompt)`).

An item whose target tokens and latent-language tokens intersect is dropped (and counted),
as in the paper: a shared token's probability would count for both languages. An item with
no answer token in either is dropped too.
"""

from __future__ import annotations

import json

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.analysis.llm_settings import ANSWER_RULES
from alignscope.errors import AlignscopeError


def _decoder_types(tokenizer: PreTrainedTokenizerBase) -> set[str]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    spec = json.loads(backend.to_str()).get("decoder") or {}
    types, stack = set(), [spec]
    while stack:
        step = stack.pop()
        types.add(step.get("type"))
        stack.extend(step.get("decoders") or [])
    return types


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte <-> printable character table, inverted (printable char -> byte)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


class Vocabulary:
    """Each token's surface: its bytes without a leading space, indexed for prefix look-ups."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        if not tokenizer.is_fast:
            raise AlignscopeError("the lens needs a fast tokenizer (token surfaces)")
        self.tokenizer = tokenizer
        special = set(tokenizer.all_special_ids)
        size = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        if "ByteLevel" in _decoder_types(tokenizer):
            table = _byte_decoder()
            surfaces = [bytes(table[c] for c in token) if token and all(c in table for c in token)
                        else None for token in tokens]
        else:
            surfaces = self._decoded(tokens)
        self.index: dict[bytes, list[int]] = {}
        for token_id, surface in enumerate(surfaces):
            if surface is None or token_id in special:
                continue
            stripped = surface[1:] if surface.startswith(b" ") else surface
            if stripped and not stripped.startswith(b" "):
                self.index.setdefault(stripped, []).append(token_id)

    def _decoded(self, tokens: list[str]) -> list[bytes | None]:
        """Text of each token after an anchor token, so that a leading space survives the
        decoder's stripping of the first one; SentencePiece byte-fallback tokens as bytes."""
        tokenizer = self.tokenizer
        anchor_text = "a"
        anchor = tokenizer.convert_tokens_to_ids(anchor_text)
        if anchor is None or anchor == tokenizer.unk_token_id or \
                tokenizer.decode([anchor]) != anchor_text:
            raise AlignscopeError("the tokenizer has no plain token 'a' to read token surfaces "
                                  "with", "use --answer-tokens first")
        texts = tokenizer.batch_decode([[anchor, token_id] for token_id in range(len(tokens))],
                                       skip_special_tokens=False,
                                       clean_up_tokenization_spaces=False)
        surfaces: list[bytes | None] = []
        for token, text in zip(tokens, texts, strict=True):
            if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
                surfaces.append(bytes([int(token[3:5], 16)]))
            elif not text.startswith(anchor_text) or "\ufffd" in text:
                surfaces.append(None)
            else:
                surfaces.append(text[len(anchor_text):].encode("utf-8"))
        return surfaces

    def prefix_tokens(self, word: str) -> list[int]:
        """The `prefixes` rule: tokens whose surface is a non-empty prefix of the word."""
        data = word.encode("utf-8")
        found: set[int] = set()
        for end in range(1, len(data) + 1):
            found.update(self.index.get(data[:end], ()))
        return sorted(found)


def first_token(tokenizer: PreTrainedTokenizerBase, prompt: str, word: str) -> int | None:
    """The first token of `word` written after `prompt`; None when the tokenizer merges it
    with the prompt's end (then no single next token starts the word)."""
    body = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(prompt + word, add_special_tokens=False)["input_ids"]
    if full[:len(body)] != body or len(full) <= len(body):
        return None
    return int(full[len(body)])


class Answers:
    """The answer tokens of words under one rule; the vocabulary's surfaces are read only for
    the `prefixes` rule, and each word's set once."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, rule: str) -> None:
        if rule not in ANSWER_RULES:
            raise AlignscopeError(f"unknown answer-token rule {rule!r}",
                                  f"use one of {', '.join(ANSWER_RULES)}")
        self.tokenizer, self.rule = tokenizer, rule
        self.vocabulary = Vocabulary(tokenizer) if rule == "prefixes" else None
        self._cache: dict[str, list[int]] = {}

    def tokens(self, prompt: str, word: str) -> list[int]:
        if self.vocabulary is not None:  # independent of the prompt
            if word not in self._cache:
                self._cache[word] = self.vocabulary.prefix_tokens(word)
            return self._cache[word]
        token = first_token(self.tokenizer, prompt, word)
        return [] if token is None else [token]
