"""The lab's lexicon: lexemes with Zipfian frequencies, topics and paradigms, and their forms.

A form is `stem + affix`. The canonical (English-like) language has English function words and
made-up content stems; a vocabulary-shifted language draws new stems and new affixes, in its
own script, for every lexeme that is not an anchor, so that the word-type map between the two
is a bijection and inflection stays regular (a plural is still stem + plural affix).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from alignscope.errors import ConfigError

# Inventories for made-up stems: (consonants, vowels) per script.
SCRIPTS: dict[str, tuple[str, str]] = {
    "latin": ("bdfgklmnprstvz", "aeiou"),
    "greek": ("βγδζθκλμνξπρστφχ", "αεηιουω"),
    "cyrillic": ("бвгджзклмнпрстфхц", "аеиоуыэюя"),
}
# Punctuation stand-ins for shifted languages (BERT pre-tokenisers split each one off).
_PUNCT_POOL = ("¡", "¿", ";", "§", "¶", "※", "·", "|", "~", "^")

# Paradigm slots: FEATS value -> affix key. Affix keys map to strings per language.
PARADIGMS: dict[str, dict[str, str]] = {
    "NOUN": {"Number=Sing": "", "Number=Plur": "pl"},
    "PROPN": {"Number=Sing": ""},
    "VERB": {"Number=Sing|Tense=Pres|VerbForm=Fin": "3sg", "Number=Plur|Tense=Pres|VerbForm=Fin": "",
             "Tense=Past|VerbForm=Fin": "past", "VerbForm=Inf": ""},
    "ADJ": {"_": ""},
    "ADV": {"_": "adv"},
}
CANONICAL_AFFIXES = {"": "", "pl": "s", "3sg": "s", "past": "ed", "adv": "ly"}

# Closed classes of the canonical language: (form, FEATS).
FUNCTION_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "DET": (("the", "_"), ("a", "Number=Sing"), ("this", "Number=Sing"), ("these", "Number=Plur"),
            ("some", "Number=Plur"), ("every", "Number=Sing"), ("no", "_")),
    "ADP": tuple((w, "_") for w in ("in", "on", "with", "from", "to", "of", "for", "at", "under",
                                    "near")),
    "PRON": (("he", "Number=Sing"), ("she", "Number=Sing"), ("it", "Number=Sing"),
             ("they", "Number=Plur"), ("we", "Number=Plur")),
    "AUX": tuple((w, "_") for w in ("will", "can", "must", "may", "should")),
    "CCONJ": tuple((w, "_") for w in ("and", "but", "or")),
    "SCONJ": tuple((w, "_") for w in ("because", "when", "if", "while", "although")),
    "PART": (("not", "_"),),
    "NUM": (("two", "_"), ("three", "_"), ("four", "_"), ("five", "_"), ("ten", "_")),
    "PUNCT": ((".", "_"), ("!", "_")),
}


@dataclass(frozen=True)
class LexiconSizes:
    """Open-class lexemes per part of speech, and the number of topics they spread over."""

    nouns: int = 200
    verbs: int = 80
    adjectives: int = 60
    adverbs: int = 20
    names: int = 20
    topics: int = 6

    def counts(self) -> dict[str, int]:
        return {"NOUN": self.nouns, "VERB": self.verbs, "ADJ": self.adjectives,
                "ADV": self.adverbs, "PROPN": self.names}


@dataclass(frozen=True)
class Lexeme:
    id: int
    upos: str
    stem: str  # canonical stem; a function word's whole form
    feats: str  # a function word's FEATS ("_" for open classes: their slot carries them)
    topic: int  # -1 for function words
    weight: float  # Zipfian weight within its class
    transitive: bool = False


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    """Weight of rank r (0-based): 1 / (r + 2.7)^s (Mandelbrot's offset flattens the head)."""
    return [1.0 / (rank + 2.7) ** exponent for rank in range(count)]


def make_stem(rng: random.Random, script: str, syllables: int) -> str:
    consonants, vowels = SCRIPTS[script]
    parts = []
    for index in range(syllables):
        syllable = rng.choice(consonants) + rng.choice(vowels)
        if index == syllables - 1 and rng.random() < 0.4:
            syllable += rng.choice(consonants)
        parts.append(syllable)
    return "".join(parts)


def build_lexicon(sizes: LexiconSizes, rng: random.Random) -> list[Lexeme]:
    """Function words first, then made-up content lexemes with distinct canonical forms."""
    lexemes: list[Lexeme] = []
    taken: set[str] = set()
    for upos, words in FUNCTION_WORDS.items():
        weights = zipf_weights(len(words))
        for (form, feats), weight in zip(words, weights, strict=True):
            lexemes.append(Lexeme(len(lexemes), upos, form, feats, -1, weight))
            taken.add(form)
    for upos, count in sizes.counts().items():
        for weight in zipf_weights(count):
            while True:
                stem = make_stem(rng, "latin", rng.choice((1, 2, 2, 3)))
                if upos == "PROPN":
                    stem = stem.capitalize()
                forms = {stem + CANONICAL_AFFIXES[key] for key in PARADIGMS[upos].values()}
                if not forms & taken and len(stem) > 2:
                    break
            taken |= forms
            lexemes.append(Lexeme(len(lexemes), upos, stem, "_", rng.randrange(sizes.topics),
                                  weight, transitive=upos == "VERB" and rng.random() < 0.6))
    return lexemes


@dataclass(frozen=True)
class Vocabulary:
    """One language's forms: a stem per lexeme and a string per affix key."""

    stems: tuple[str, ...]
    affixes: dict[str, str]
    anchored: frozenset[int]  # lexemes whose forms are kept identical to the canonical ones

    def form(self, lexeme: Lexeme, slot: str) -> str:
        key = PARADIGMS[lexeme.upos][slot] if lexeme.upos in PARADIGMS else ""
        affixes = CANONICAL_AFFIXES if lexeme.id in self.anchored else self.affixes
        return self.stems[lexeme.id] + affixes[key]

    def citation(self, lexeme: Lexeme) -> str:
        """The lemma column: the form of the paradigm's last slot (infinitive, singular...)."""
        if lexeme.upos not in PARADIGMS:
            return self.stems[lexeme.id]
        slots = list(PARADIGMS[lexeme.upos])
        return self.form(lexeme, slots[-1] if lexeme.upos == "VERB" else slots[0])


def all_forms(lexicon: list[Lexeme], vocabulary: Vocabulary) -> dict[tuple[int, str], str]:
    """Every (lexeme, slot) -> form of a language."""
    return {(lexeme.id, slot): vocabulary.form(lexeme, slot)
            for lexeme in lexicon for slot in PARADIGMS.get(lexeme.upos, {lexeme.feats: ""})}


def canonical_vocabulary(lexicon: list[Lexeme]) -> Vocabulary:
    return Vocabulary(tuple(lexeme.stem for lexeme in lexicon), dict(CANONICAL_AFFIXES),
                      frozenset())


def shifted_vocabulary(lexicon: list[Lexeme], script: str, anchored: frozenset[int],
                       rng: random.Random) -> Vocabulary:
    """New stems and affixes in `script` for every non-anchored lexeme; forms stay distinct
    from each other and from every canonical form (no accidental anchors)."""
    if script not in SCRIPTS:
        raise ConfigError(f"unknown script {script!r} for vocab-shift", "use one of "
                          f"{', '.join(SCRIPTS)}")
    canonical = set(all_forms(lexicon, canonical_vocabulary(lexicon)).values())
    consonants, vowels = SCRIPTS[script]
    affixes = {"": ""}
    for key in CANONICAL_AFFIXES:
        while key and key not in affixes:
            candidate = rng.choice(vowels) + rng.choice(consonants) + rng.choice(("", rng.choice(vowels)))
            if candidate not in affixes.values():
                affixes[key] = candidate
    punct = iter(rng.sample(_PUNCT_POOL, len(_PUNCT_POOL)))
    stems: list[str] = []
    taken = set(canonical)  # anchors keep theirs; no other form may reuse one
    for lexeme in lexicon:
        if lexeme.id in anchored:
            stems.append(lexeme.stem)
            continue
        slots = PARADIGMS.get(lexeme.upos, {lexeme.feats: ""})
        while True:
            if lexeme.upos == "PUNCT":
                stem = next(punct)
            else:
                stem = make_stem(rng, script, max(1, min(3, len(lexeme.stem) // 2)))
                stem = stem.capitalize() if lexeme.upos == "PROPN" else stem
            forms = {stem + affixes[key] for key in slots.values()}
            if not forms & taken:
                break
        taken |= forms
        stems.append(stem)
    return Vocabulary(tuple(stems), affixes, anchored)
