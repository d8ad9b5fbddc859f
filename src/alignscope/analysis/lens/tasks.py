"""The lens tasks of Wendler et al. (2024), built from a word list, and their items.

  translation A-B  few-shot: `demos` other concepts as `Français: "livre" - 中文: "书"` lines,
                   then the item's `Français: "fleur" - 中文: "`; the answer is the word in B
  repetition B     the same with A = B (`中文: "花" - 中文: "`), B's word repeated
  cloze B          `cloze_demos` other concepts' cloze texts in B, whole, then the item's cloze
                   text cut just after the opening quote of its last quoted span
                   (`Un "___" est ... Réponse : "`); the answer is the word in B

Demonstrations are drawn from the other concepts that have the needed words, with a generator
seeded by (seed, task, languages, concept), so an item's prompt does not depend on which other
items are asked for. A decoder reads the prompt's last token; an encoder with a masked-LM head
reads a mask token appended to the prompt. The latent languages' words of the same concept are
the latent answers (English by default).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.analysis.lens.answers import Answers, first_token
from alignscope.analysis.lens.words import LANGUAGE_NAMES, Concept, WordList
from alignscope.errors import AlignscopeError, DataFormatError


@dataclass(frozen=True)
class TaskSpec:
    task: str
    source: str | None  # translation / repetition: the input language; cloze: None
    target: str

    @property
    def key(self) -> str:
        """`translation:fr-zh`, `repetition:zh`, `cloze:fr`."""
        if self.task == "translation":
            return f"translation:{self.source}-{self.target}"
        return f"{self.task}:{self.target}"


@dataclass
class LensItem:
    """One prompt and its answers; `to_dict` is what results record, enough to recompute."""

    task: str
    source: str | None
    target: str
    concept: str
    prompt: str  # the text the model reads (with the mask token for an encoder)
    answer: str
    latent: dict[str, str]
    input_ids: list[int]
    position: int  # the read token's index in input_ids
    target_ids: list[int]
    latent_ids: dict[str, list[int]]
    first_token: int | None
    control: dict[str, str] = field(default_factory=dict)  # latent lang -> another concept's word
    control_ids: dict[str, list[int]] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # lens -> metric -> per layer

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "source": self.source, "target": self.target,
                "concept": self.concept, "prompt": self.prompt, "answer": self.answer,
                "latent": self.latent, "input_ids": self.input_ids, "position": self.position,
                "target_ids": self.target_ids, "latent_ids": self.latent_ids,
                "first_token": self.first_token, "control": self.control,
                "control_ids": self.control_ids, "values": self.values}


def task_specs(tasks: tuple[str, ...], languages: tuple[str, ...],
               sources: tuple[str, ...]) -> list[TaskSpec]:
    """Translation from every source to every other language; repetition and cloze in each."""
    specs: list[TaskSpec] = []
    for task in tasks:
        if task == "translation":
            specs += [TaskSpec(task, source, target) for source in sources
                      for target in languages if source != target]
        else:
            specs += [TaskSpec(task, target if task == "repetition" else None, target)
                      for target in languages]
    return specs


def language_name(code: str, names: dict[str, str]) -> str:
    return names.get(code) or LANGUAGE_NAMES.get(code) or code


def cloze_query(text: str, where: str) -> str:
    """The cloze text up to the opening quote of its last quoted span (the answer's)."""
    body = text.rstrip()
    close = body.rfind('"')
    opening = body.rfind('"', 0, close)
    if opening < 0 or "_" not in body[:opening]:
        raise DataFormatError(where, None, f"cloze text {text!r} has no quoted blank (___) and "
                              "quoted answer", 'write e.g. A "___" is used to read. Answer: '
                              '"book".')
    return body[:opening + 1]


@dataclass(frozen=True)
class PromptOptions:
    demos: int = 4  # translation / repetition demonstrations (the paper's k = 5, minus the item)
    cloze_demos: int = 2  # the paper's n_skip
    seed: int = 0
    names: dict[str, str] = field(default_factory=dict)  # language code -> name in prompts


def _demos(pool: list[Concept], concept: Concept, count: int, key: str) -> list[Concept]:
    others = [other for other in pool if other.id != concept.id]
    if len(others) < count:
        raise AlignscopeError(f"{key}: {len(others)} other concepts for {count} demonstrations",
                              "use a longer word list or fewer --demos")
    return random.Random(key).sample(others, count)


def build_prompt(spec: TaskSpec, concept: Concept, pool: list[Concept], options: PromptOptions,
                 where: str) -> str:
    key = f"{options.seed}:{spec.key}:{concept.id}"
    if spec.task == "cloze":
        lines = [other.cloze[spec.target] for other in
                 _demos(pool, concept, options.cloze_demos, key)]
        return "".join(f"{line}\n" for line in lines) + cloze_query(concept.cloze[spec.target],
                                                                    where)
    assert spec.source is not None
    name_a = language_name(spec.source, options.names)
    name_b = language_name(spec.target, options.names)
    lines = [f'{name_a}: "{other.words[spec.source]}" - {name_b}: "{other.words[spec.target]}"'
             for other in _demos(pool, concept, options.demos, key)]
    return "".join(f"{line}\n" for line in lines) + \
        f'{name_a}: "{concept.words[spec.source]}" - {name_b}: "'


def _usable(spec: TaskSpec, concept: Concept, latents: tuple[str, ...]) -> bool:
    needed = {spec.target, *latents} | ({spec.source} if spec.source else set())
    if not all(lang in concept.words for lang in needed):
        return False
    return spec.task != "cloze" or spec.target in concept.cloze


@dataclass
class ItemCounts:
    """Per task spec: items kept and concepts left out, by reason."""

    kept: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)  # a word or cloze text absent
    no_token: Counter[str] = field(default_factory=Counter)  # no answer token
    collision: Counter[str] = field(default_factory=Counter)  # target and latent tokens shared
    too_long: Counter[str] = field(default_factory=Counter)  # prompt over the model's limit

    def as_dict(self) -> dict[str, dict[str, int]]:
        keys = sorted(set(self.kept) | set(self.missing) | set(self.no_token)
                      | set(self.collision) | set(self.too_long))
        return {key: {"items": self.kept[key], "missing": self.missing[key],
                      "no_token": self.no_token[key], "collision": self.collision[key],
                      "too_long": self.too_long[key]} for key in keys}


@dataclass(frozen=True)
class Reader:
    """How the model reads a prompt: its tokenizer, and a mask token for an encoder."""

    tokenizer: PreTrainedTokenizerBase
    causal: bool
    max_tokens: int

    def encode(self, prompt: str) -> tuple[str, list[int], int]:
        """(text read, input ids, read position)."""
        if self.causal:
            ids = self.tokenizer(prompt)["input_ids"]
            return prompt, ids, len(ids) - 1
        mask = self.tokenizer.mask_token
        if mask is None:
            raise AlignscopeError("this encoder's tokenizer has no mask token to read the "
                                  "answer at", "use a masked-LM encoder or a decoder")
        text = prompt + mask
        ids = self.tokenizer(text)["input_ids"]
        positions = [i for i, token in enumerate(ids) if token == self.tokenizer.mask_token_id]
        if len(positions) != 1:
            raise AlignscopeError(f"the prompt {text!r} holds {len(positions)} mask tokens",
                                  "remove mask tokens from the word list")
        return text, ids, positions[0]


def build_items(words: WordList, specs: list[TaskSpec], reader: Reader, answers: Answers,
                latents: tuple[str, ...], options: PromptOptions,
                max_items: int | None = None) -> tuple[list[LensItem], ItemCounts]:
    """Every usable (spec, concept) item, at most `max_items` per spec (a seeded sample)."""
    counts = ItemCounts()
    items: list[LensItem] = []
    tokens = answers.tokens

    for spec in specs:
        kept: list[tuple[LensItem, str]] = []
        pool = [concept for concept in words.concepts if _usable(spec, concept, latents)]
        counts.missing[spec.key] += len(words.concepts) - len(pool)
        chosen = pool
        if max_items is not None and len(pool) > max_items:
            chosen = random.Random(f"{options.seed}:{spec.key}").sample(pool, max_items)
        for concept in chosen:
            prompt = build_prompt(spec, concept, pool, options, words.source)
            text, ids, position = reader.encode(prompt)
            if len(ids) > reader.max_tokens:
                counts.too_long[spec.key] += 1
                continue
            answer = concept.words[spec.target]
            target_ids = tokens(prompt, answer)
            latent_words = {lang: concept.words[lang] for lang in latents}
            latent_ids = {lang: tokens(prompt, word) for lang, word in latent_words.items()}
            if not target_ids or not all(latent_ids.values()):
                counts.no_token[spec.key] += 1
                continue
            shared = any(set(target_ids) & set(ids_) for lang, ids_ in latent_ids.items()
                         if lang != spec.target)
            if shared:
                counts.collision[spec.key] += 1
                continue
            counts.kept[spec.key] += 1
            kept.append((LensItem(spec.task, spec.source, spec.target, concept.id, text, answer,
                                  latent_words, ids, position, target_ids, latent_ids,
                                  first_token(reader.tokenizer, prompt, answer)), prompt))
        _controls(kept, tokens, f"{options.seed}:{spec.key}")
        items.extend(item for item, _ in kept)
    return items, counts


def _controls(kept: list[tuple[LensItem, str]], tokens: Any, key: str) -> None:
    """Each item's control in each latent language: the latent word of another item of the same
    task and pair (seeded order), the first whose tokens share none with the item's target or
    latent answer. It measures how much of the latent probability is the right concept rather
    than any word of that language."""
    for item, prompt in kept:
        others = [other for other, _ in kept if other.concept != item.concept]
        random.Random(f"{key}:{item.concept}").shuffle(others)
        for lang, latent_ids in item.latent_ids.items():
            taken = set(item.target_ids) | set(latent_ids)
            for other in others:
                candidate = tokens(prompt, other.latent[lang])
                if candidate and not taken & set(candidate):
                    item.control[lang], item.control_ids[lang] = other.latent[lang], candidate
                    break
