"""Languages derived from the canonical one by controlled transformations.

  vocab-shift[:SCRIPT]  every non-anchor lexeme gets a new stem and the language new affixes
                        (SCRIPT: latin, greek, cyrillic; default latin)
  head-final            objects, obliques and adverbs precede their verb (SOV)
  adj-after-noun        adjectives follow their noun
  invert                every sentence is read backwards

Transformations combine with `+` (`vocab-shift:greek+head-final`). Word order is changed on
the dependency tree, so every language holds the same sentences with the same tags and trees.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from alignscope.errors import ConfigError
from alignscope.lab.grammar import Word
from alignscope.lab.lexicon import SCRIPTS, Lexeme, Vocabulary, canonical_vocabulary, shifted_vocabulary

ORDER_TRANSFORMS = ("head-final", "adj-after-noun", "invert")
TRANSFORMS = ("vocab-shift", *ORDER_TRANSFORMS)
_MOVED_BEFORE_VERB = frozenset({"obj", "obl", "advmod"})


@dataclass(frozen=True)
class LanguageSpec:
    """What the user asked for one language."""

    code: str
    script: str | None = None  # set: vocab-shift into this script
    orders: frozenset[str] = frozenset()
    anchor_share: float = 0.0

    @property
    def transforms(self) -> list[str]:
        shift = [f"vocab-shift:{self.script}"] if self.script else []
        return shift + [name for name in ORDER_TRANSFORMS if name in self.orders]


def parse_transform(code: str, text: str) -> tuple[str | None, frozenset[str]]:
    """`vocab-shift:greek+head-final` -> ('greek', {'head-final'})."""
    script, orders = None, set()
    for part in filter(None, (item.strip() for item in text.split("+"))):
        name, _, argument = part.partition(":")
        if name == "vocab-shift":
            script = argument or "latin"
            if script not in SCRIPTS:
                raise ConfigError(f"unknown script {script!r} in {part!r} for language {code!r}; "
                                  f"use one of {', '.join(SCRIPTS)}")
        elif name in ORDER_TRANSFORMS and not argument:
            orders.add(name)
        else:
            raise ConfigError(f"unknown transformation {part!r} for language {code!r}", "use "
                              f"{', '.join(TRANSFORMS)} joined by '+' (vocab-shift:greek for "
                              "another script), or copy alone")
    return script, frozenset(orders)


@dataclass(frozen=True)
class Row:
    """One CoNLL-U word line of a realised sentence."""

    form: str
    lemma: str
    upos: str
    feats: str
    head: int  # 1-based, 0 for the root
    deprel: str


class Language:
    def __init__(self, spec: LanguageSpec, lexicon: list[Lexeme], anchored: frozenset[int],
                 rng: random.Random) -> None:
        self.spec = spec
        self.lexicon = lexicon
        self.vocabulary: Vocabulary = (
            shifted_vocabulary(lexicon, spec.script, anchored, rng) if spec.script
            else canonical_vocabulary(lexicon))

    @property
    def code(self) -> str:
        return self.spec.code

    def realise(self, sentence: tuple[Word, ...]) -> list[Row]:
        order = self.order(sentence)
        position = {index: rank + 1 for rank, index in enumerate(order)}
        rows = []
        for index in order:
            word = sentence[index]
            lexeme = self.lexicon[word.lexeme]
            rows.append(Row(self.vocabulary.form(lexeme, word.slot),
                            self.vocabulary.citation(lexeme), lexeme.upos, word.slot,
                            0 if word.head < 0 else position[word.head], word.deprel))
        return rows

    def order(self, sentence: tuple[Word, ...]) -> list[int]:
        """Canonical indices in this language's order (a projective re-linearisation)."""
        left: dict[int, list[int]] = {i: [] for i in range(len(sentence))}
        right: dict[int, list[int]] = {i: [] for i in range(len(sentence))}
        root = 0
        for index, word in enumerate(sentence):
            if word.head < 0:
                root = index
            else:
                (left if index < word.head else right)[word.head].append(index)
        for head, word in enumerate(sentence):
            upos = self.lexicon[word.lexeme].upos
            if "head-final" in self.spec.orders and upos == "VERB":
                moved = [i for i in right[head] if sentence[i].deprel in _MOVED_BEFORE_VERB]
                right[head] = [i for i in right[head] if i not in moved]
                left[head] = left[head] + moved[::-1]
            if "adj-after-noun" in self.spec.orders and upos in ("NOUN", "PROPN"):
                moved = [i for i in left[head] if sentence[i].deprel == "amod"]
                left[head] = [i for i in left[head] if i not in moved]
                right[head] = moved + right[head]
        order: list[int] = []

        def visit(node: int) -> None:
            for child in left[node]:
                visit(child)
            order.append(node)
            for child in right[node]:
                visit(child)

        visit(root)
        return order[::-1] if "invert" in self.spec.orders else order
