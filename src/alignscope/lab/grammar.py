"""A probabilistic dependency grammar: abstract sentences (lexemes, slots, tree) in the
canonical English-like order (SVO, determiner-adjective-noun, prepositions).

Content words follow a sentence topic (selectional preference) and Zipfian frequencies;
subjects agree in number with present-tense verbs and with determiners. Sentences are
abstract: languages (languages.py) give them forms and word order.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field

from alignscope.lab.lexicon import PARADIGMS, Lexeme


@dataclass(frozen=True)
class Word:
    lexeme: int
    slot: str  # the FEATS of this occurrence (a paradigm slot for open classes)
    deprel: str
    head: int  # index of the head in the sentence's canonical order; -1 for the root


@dataclass
class _Node:
    lexeme: int
    slot: str
    deprel: str = ""
    left: list[_Node] = field(default_factory=list)
    right: list[_Node] = field(default_factory=list)


class _Sampler:
    """Zipfian draws from one word class, optionally restricted to a topic."""

    def __init__(self, lexemes: list[Lexeme]) -> None:
        self.ids = [lexeme.id for lexeme in lexemes]
        self.cumulative = list(itertools.accumulate(lexeme.weight for lexeme in lexemes))

    def draw(self, rng: random.Random) -> int:
        index = bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        return self.ids[min(index, len(self.ids) - 1)]


class Grammar:
    """Draws abstract sentences; `on_topic` is the share of content words from the topic."""

    def __init__(self, lexicon: list[Lexeme], topics: int, on_topic: float = 0.8) -> None:
        self.lexicon = lexicon
        self.on_topic = on_topic
        self.topics = topics
        by_class: dict[str, list[Lexeme]] = {}
        for lexeme in lexicon:
            by_class.setdefault(lexeme.upos, []).append(lexeme)
        self.any = {upos: _Sampler(items) for upos, items in by_class.items()}
        self.topical = {(upos, topic): _Sampler([x for x in items if x.topic == topic])
                        for upos, items in by_class.items() if upos in PARADIGMS
                        for topic in range(topics) if any(x.topic == topic for x in items)}

    def _content(self, rng: random.Random, upos: str, topic: int) -> int:
        sampler = self.topical.get((upos, topic))
        if sampler is not None and rng.random() < self.on_topic:
            return sampler.draw(rng)
        return self.any[upos].draw(rng)

    def _function(self, rng: random.Random, upos: str, number: str | None = None) -> _Node:
        """A function word agreeing with `number` (words marked for the other are redrawn)."""
        while True:
            lexeme = self.lexicon[self.any[upos].draw(rng)]
            if number is None or lexeme.feats in ("_", f"Number={number}"):
                return _Node(lexeme.id, lexeme.feats)

    def sentence(self, rng: random.Random) -> tuple[Word, ...]:
        topic = rng.randrange(self.topics)
        root = self._clause(rng, topic)
        root.deprel = "root"
        extra = rng.random()
        if extra < 0.15:
            conj = self._clause(rng, topic)
            conj.deprel = "conj"
            conj.left.insert(0, self._with(self._function(rng, "CCONJ"), "cc"))
            root.right.append(conj)
        elif extra < 0.3:
            advcl = self._clause(rng, topic)
            advcl.deprel = "advcl"
            advcl.left.insert(0, self._with(self._function(rng, "SCONJ"), "mark"))
            root.right.append(advcl)
        root.right.append(self._with(self._function(rng, "PUNCT"), "punct"))
        return _flatten(root)

    @staticmethod
    def _with(node: _Node, deprel: str) -> _Node:
        node.deprel = deprel
        return node

    def _clause(self, rng: random.Random, topic: int) -> _Node:
        subject, number = self._noun_phrase(rng, topic, depth=0)
        lexeme = self.lexicon[self._content(rng, "VERB", topic)]
        tense = rng.random()
        if tense < 0.2:
            verb = _Node(lexeme.id, "VerbForm=Inf")
            verb.left = [self._with(subject, "nsubj"), self._with(self._function(rng, "AUX"), "aux")]
            if rng.random() < 0.3:
                verb.left.append(self._with(self._function(rng, "PART"), "advmod"))
        else:
            slot = ("Tense=Past|VerbForm=Fin" if tense < 0.5
                    else f"Number={number}|Tense=Pres|VerbForm=Fin")
            verb = _Node(lexeme.id, slot, left=[self._with(subject, "nsubj")])
        if lexeme.transitive:
            verb.right.append(self._with(self._noun_phrase(rng, topic, depth=0)[0], "obj"))
        if rng.random() < 0.35:
            verb.right.append(self._with(self._prepositional(rng, topic, depth=0), "obl"))
        if rng.random() < 0.2:
            adverb = _Node(self._content(rng, "ADV", topic), "_", "advmod")
            verb.right.append(adverb)
        return verb

    def _noun_phrase(self, rng: random.Random, topic: int, depth: int) -> tuple[_Node, str]:
        kind = rng.random()
        if kind < 0.12:
            node = self._function(rng, "PRON")
            return node, node.slot.split("=")[1]
        if kind < 0.2:
            return _Node(self._content(rng, "PROPN", topic), "Number=Sing"), "Sing"
        number = "Plur" if rng.random() < 0.3 else "Sing"
        noun = _Node(self._content(rng, "NOUN", topic), f"Number={number}")
        if rng.random() < 0.75:
            noun.left.append(self._with(self._function(rng, "DET", number), "det"))
        if number == "Plur" and rng.random() < 0.15:
            noun.left.append(self._with(self._function(rng, "NUM"), "nummod"))
        for chance in (0.35, 0.1):
            if rng.random() >= chance:
                break
            noun.left.append(_Node(self._content(rng, "ADJ", topic), "_", "amod"))
        if depth < 1 and rng.random() < 0.12:
            noun.right.append(self._with(self._prepositional(rng, topic, depth + 1), "nmod"))
        return noun, number

    def _prepositional(self, rng: random.Random, topic: int, depth: int) -> _Node:
        noun, _ = self._noun_phrase(rng, topic, depth)
        noun.left.insert(0, self._with(self._function(rng, "ADP"), "case"))
        return noun


def _flatten(root: _Node) -> tuple[Word, ...]:
    """Canonical order: left dependents, the head, right dependents, recursively."""
    order: list[_Node] = []
    heads: dict[int, _Node | None] = {id(root): None}

    def visit(node: _Node) -> None:
        for child in node.left:
            heads[id(child)] = node
            visit(child)
        order.append(node)
        for child in node.right:
            heads[id(child)] = node
            visit(child)

    visit(root)
    position = {id(node): index for index, node in enumerate(order)}
    return tuple(Word(node.lexeme, node.slot, node.deprel,
                      -1 if heads[id(node)] is None else position[id(heads[id(node)])])
                 for node in order)
