"""`alignscope lab generate`: write a synthetic multilingual treebank collection.

Layout of the output folder (a data directory every command reads with `--data-dir`):

  ud/{lang}_lab-ud-{train,dev,test}.conllu   the same sentences in every language
  ud/{lang}_labpud-ud-test.conllu             a separate parallel set (`--parallel ud:labpud`)
  text/{lang}.{train,dev}.txt                 raw sentences, one a line (pretraining corpus)
  lexicon.tsv                                 every word form in every language
  lab.json                                    the configuration and corpus statistics
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from alignscope.config import (
    DEFAULT_SEED,
    Count,
    Flag,
    Folder,
    Languages,
    Overwrite,
    Seed,
    options,
    user_error,
)
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.io import atomic_directory, atomic_write_json, atomic_write_text
from alignscope.lab.grammar import Grammar, Word
from alignscope.lab.languages import Language, LanguageSpec, Row, parse_transform
from alignscope.lab.lexicon import PARADIGMS, LexiconSizes, build_lexicon

MANIFEST = "lab.json"
# The default transformations of the default languages: any other language needs its own.
DEFAULT_TRANSFORMS = {"xx": "vocab-shift", "yy": "vocab-shift:greek+head-final"}
TREEBANK, PARALLEL = "lab", "labpud"
_CODE = re.compile(r"^[a-z]{2,3}$")


def _assignments(value: Any) -> Any:
    """`xx=vocab-shift,yy=head-final` -> {'xx': 'vocab-shift', 'yy': 'head-final'}."""
    if not isinstance(value, str):
        return value
    result: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        code, sep, setting = item.partition("=")
        if item and (not sep or not code.strip() or not setting.strip()):
            raise ValueError(f"bad item {item!r}; write LANG=VALUE, e.g. xx=vocab-shift")
        if item:
            result[code.strip()] = setting.strip()
    return result


def _shares(value: Any) -> Any:
    """`0.1` -> 0.1; `xx=0,yy=0.3` -> {'xx': 0.0, 'yy': 0.3}."""
    if not isinstance(value, str):
        return value
    try:
        if "=" not in value:
            return float(value)
        return {code: float(share) for code, share in _assignments(value).items()}
    except ValueError:
        raise ValueError(f"{value!r}: give a number (0.1) or LANG=NUMBER items "
                         "(xx=0,yy=0.3)") from None


@options(frozen=True)
class GenerateConfig:
    """What `alignscope lab generate` writes (the `corpus` section of the demo)."""

    languages: Languages = Field(("en", "xx", "yy"), description="Language codes (2-3 letters), "
                             "comma-separated; the first is the source.")
    transforms: Annotated[dict[str, str] | None, BeforeValidator(_assignments),
                          Flag(old_names=("transform",), metavar="LANG=T1+T2,...")] = Field(
        None, description="How each language but the source differs from it, with T in "
        "vocab-shift[:latin|greek|cyrillic], head-final, adj-after-noun, invert, or copy (an "
        "exact copy, asked for). Default: xx=vocab-shift, yy=vocab-shift:greek+head-final, "
        "for those of them in --languages; any other language needs its own.")
    anchor_share: Annotated[float | dict[str, float], BeforeValidator(_shares),
                            Flag(metavar="SHARE|LANG=SHARE,...")] = Field(
        0.1, description="Share of lexemes a vocab-shifted language keeps identical: 0.1, or "
                         "per language, xx=0,yy=0.3.")
    sentences: Count = Field(50_000, description="Treebank sentences (train + dev + test).")
    eval_sentences: Count | None = Field(None, description="Dev and test sentences each "
                                         "(default: min(1000, sentences/10)).")
    parallel_sentences: Count = Field(1000, description="Sentences of the separate parallel "
                                      "set (LANG_labpud).")
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the lexicons, the grammar and the "
                       "sentences.")
    sizes: Annotated[LexiconSizes, Flag(internal=True)] = Field(
        default_factory=LexiconSizes, description="Open-class lexemes per part of speech and "
                                                  "topics.")

    @model_validator(mode="after")
    def _consistent(self) -> GenerateConfig:
        user_error(language_specs, self.languages, self.transforms_used, self.anchor_share)
        if self.sentences - 2 * self.heldout < 1:
            raise ValueError(f"--sentences {self.sentences} leaves no training sentence after "
                             f"{self.heldout} dev and {self.heldout} test sentences")
        return self

    @property
    def transforms_used(self) -> dict[str, str]:
        if self.transforms is not None:
            return self.transforms
        return {code: text for code, text in DEFAULT_TRANSFORMS.items() if code in self.languages}

    @property
    def specs(self) -> tuple[LanguageSpec, ...]:
        return language_specs(self.languages, self.transforms_used, self.anchor_share)

    @property
    def heldout(self) -> int:
        if self.eval_sentences is not None:
            return self.eval_sentences
        return max(1, min(1000, self.sentences // 10))

    def to_dict(self) -> dict[str, Any]:
        return {"languages": {spec.code: {"transforms": spec.transforms,
                                          "anchor_share": spec.anchor_share}
                              for spec in self.specs},
                "sentences": self.sentences, "eval_sentences": self.heldout,
                "parallel_sentences": self.parallel_sentences, "seed": self.seed,
                "sizes": asdict(self.sizes)}


@options(frozen=True)
class GenerateOutput(Overwrite):
    out: Folder = Field(description="Output folder: a data folder for --data-dir.")


def language_specs(languages: Sequence[str], transforms: dict[str, str],
                   anchor_share: float | dict[str, float]) -> tuple[LanguageSpec, ...]:
    """Validate the languages, their transformations and anchor shares (nothing implicit)."""
    codes = list(languages)
    if not codes:
        raise ConfigError("give at least one language (--languages en,xx)")
    for code in codes:
        if not _CODE.match(code):
            raise ConfigError(f"language code {code!r} must be 2-3 lowercase letters "
                              "(it names the treebank files, e.g. xx_lab-ud-train.conllu)")
    if len(set(codes)) != len(codes):
        raise ConfigError(f"a language is given twice in {','.join(codes)}")
    shares = anchor_share if isinstance(anchor_share, dict) else dict.fromkeys(codes, anchor_share)
    for code, share in shares.items():
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"--anchor-share for {code} must be in [0, 1], got {share}")
    for code in codes[1:]:
        if not transforms.get(code, "").strip():
            raise ConfigError(f"language {code} has no transformation: it would be an exact "
                              f"copy of {codes[0]} (every word shared, so --anchor-share does "
                              "nothing)", f"give it one, e.g. --transforms {code}=vocab-shift, "
                              f"or {code}=copy for a deliberate copy")
    for name, where in ((transforms, "--transforms"), (shares, "--anchor-share")):
        unknown = sorted(set(name) - set(codes))
        if unknown:
            raise ConfigError(f"{where} names {', '.join(unknown)}, not in --languages "
                              f"{','.join(codes)}")
    specs = []
    for code in codes:
        text = transforms.get(code, "").strip()
        script, orders = parse_transform(code, "" if text == "copy" else text)
        if isinstance(anchor_share, dict) and code in anchor_share and script is None:
            raise ConfigError(f"--anchor-share {code}={anchor_share[code]} has no effect: {code} "
                              f"keeps every word of {codes[0]} (no vocab-shift)",
                              f"drop {code} from --anchor-share, or give it vocab-shift")
        specs.append(LanguageSpec(code, script, orders, shares.get(code, 0.0)))
    return tuple(specs)


def _conllu(sent_id: str, rows: list[Row]) -> str:
    lines = [f"# sent_id = {sent_id}", f"# text = {' '.join(row.form for row in rows)}"]
    lines += [f"{i}\t{r.form}\t{r.lemma}\t{r.upos}\t_\t{r.feats}\t{r.head}\t{r.deprel}\t_\t_"
              for i, r in enumerate(rows, start=1)]
    return "\n".join(lines) + "\n\n"


def _splits(config: GenerateConfig) -> list[tuple[str, str, str, int]]:
    """(treebank, split, sent_id prefix, count) in the order sentences are drawn."""
    train = config.sentences - 2 * config.heldout
    return [(TREEBANK, "train", "lab-train", train), (TREEBANK, "dev", "lab-dev", config.heldout),
            (TREEBANK, "test", "lab-test", config.heldout),
            (PARALLEL, "test", "labpud", config.parallel_sentences)]


def _sentences(grammar: Grammar, rng: random.Random,
               count: int) -> Iterator[tuple[int, tuple[Word, ...]]]:
    for index in range(1, count + 1):
        yield index, grammar.sentence(rng)


def generate(config: GenerateConfig, out: str | Path, overwrite: bool = False,
             ) -> dict[str, Any]:
    """Write the corpus into `out` (atomically: a folder appears whole or not at all)."""
    from alignscope.runs import timestamp  # its result schema is heavy for `--help`

    out = Path(out)
    if out.exists() and not overwrite:
        raise AlignscopeError(f"{out} already exists", "choose another --out or pass --overwrite")
    lexicon = build_lexicon(config.sizes, random.Random(f"{config.seed}-lexicon"))
    ranking = random.Random(f"{config.seed}-anchors").sample(range(len(lexicon)), len(lexicon))
    languages = [Language(spec, lexicon, frozenset(ranking[:round(spec.anchor_share * len(lexicon))]),
                          random.Random(f"{config.seed}-{spec.code}"))
                 for spec in config.specs]
    grammar = Grammar(lexicon, config.sizes.topics)
    rng = random.Random(f"{config.seed}-sentences")
    tokens = {language.code: [0, 0] for language in languages}  # [anchor tokens, all tokens]
    with atomic_directory(out) as tmp:
        for treebank, split, prefix, count in _splits(config):
            chunks: dict[str, list[str]] = {language.code: [] for language in languages}
            for index, sentence in _sentences(grammar, rng, count):
                for language in languages:
                    rows = language.realise(sentence)
                    chunks[language.code].append(_conllu(f"{prefix}-{index:06d}", rows))
                    if split == "train":
                        counts = tokens[language.code]
                        counts[0] += sum(w.lexeme in language.vocabulary.anchored
                                         for w in sentence)
                        counts[1] += len(sentence)
            for code, blocks in chunks.items():
                atomic_write_text(tmp / "ud" / f"{code}_{treebank}-ud-{split}.conllu",
                                  "".join(blocks))
                if treebank == TREEBANK and split != "test":
                    atomic_write_text(tmp / "text" / f"{code}.{split}.txt", "".join(
                        block.split("\n", 2)[1][len("# text = "):] + "\n" for block in blocks))
        atomic_write_text(tmp / "lexicon.tsv", _lexicon_table(lexicon, languages))
        manifest = {
            "kind": "alignscope-lab-corpus", "schema_version": 1, "config": config.to_dict(),
            "source_language": languages[0].code,
            "languages": {language.code: {
                "transforms": language.spec.transforms,
                "anchor_share": language.spec.anchor_share if language.spec.script else None,
                "anchored_lexemes": len(language.vocabulary.anchored) if language.spec.script
                else len(lexicon),
                "anchor_token_share": round(tokens[language.code][0] / tokens[language.code][1], 4)
                if language.spec.script else 1.0,
                "treebank": f"ud:{language.code}_{TREEBANK}",
                "parallel": f"{language.code}_{PARALLEL}"} for language in languages},
            "lexemes": len(lexicon),
            "splits": {f"{treebank}:{split}": count for treebank, split, _, count in _splits(config)},
            "created": timestamp(),
        }
        atomic_write_json(tmp / MANIFEST, manifest)
    from alignscope.data.registry import refresh_index

    refresh_index()  # the new treebanks must be visible to `ud:` references at once
    return manifest


def _lexicon_table(lexicon: list, languages: list[Language]) -> str:
    header = ["lexeme", "upos", "feats", *(language.code for language in languages)]
    lines = ["\t".join(header)]
    for lexeme in lexicon:
        for slot in PARADIGMS.get(lexeme.upos, {lexeme.feats: ""}):
            forms = [language.vocabulary.form(lexeme, slot) for language in languages]
            lines.append("\t".join([str(lexeme.id), lexeme.upos, slot, *forms]))
    return "\n".join(lines) + "\n"


def read_manifest(corpus: str | Path) -> dict[str, Any]:
    import json

    path = Path(corpus) / MANIFEST
    if not path.is_file():
        raise AlignscopeError(f"{corpus} is not a lab corpus (no {MANIFEST}); create one with "
                              "`alignscope lab generate --out DIR`")
    return json.loads(path.read_text(encoding="utf-8"))
