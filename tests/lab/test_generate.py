"""The synthetic language generator: valid CoNLL-U trees, parallel sentences, exact label
transfer under every transformation, bijective vocabularies, anchors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from alignscope.data.conllu import read_conllu
from alignscope.data.parallel import load_parallel
from alignscope.data.registry import resolve
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.grammar import Grammar
from alignscope.lab.languages import Language, LanguageSpec
from alignscope.lab.lexicon import LexiconSizes, all_forms, build_lexicon, canonical_vocabulary

SIZES = LexiconSizes(nouns=60, verbs=30, adjectives=20, adverbs=8, names=6, topics=3)
LANGS = ["en", "xx", "yy", "zz"]
TRANSFORMS = {"xx": "vocab-shift", "yy": "vocab-shift:greek+head-final+adj-after-noun",
              "zz": "invert"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "data"
    generate(GenerateConfig(languages=LANGS, transforms=TRANSFORMS, anchor_share=0.2,
                            sentences=80, eval_sentences=10, parallel_sentences=15, seed=3,
                            sizes=SIZES), out)
    return out


def test_every_file_is_valid_conllu_read_by_alignscope(corpus: Path) -> None:
    for lang in LANGS:
        counts = {}
        for split in ("train", "dev", "test"):
            sentences = read_conllu(resolve(f"ud:{lang}_lab:{split}", data_dir=corpus).path)
            counts[split] = len(sentences)
            for sentence in sentences:  # read_conllu checked IDs, heads, and that trees are acyclic
                assert sentence.heads is not None and sentence.heads.count(0) == 1
                assert sentence.upos is not None and sentence.text == " ".join(sentence.words)
        assert counts == {"train": 60, "dev": 10, "test": 10}
    parallel = load_parallel("ud:labpud", LANGS, corpus)
    assert len(parallel) == 15 and parallel.languages == tuple(LANGS)


def test_labels_carry_over_exactly(corpus: Path) -> None:
    """Each language holds the same sentences: same ids, and the same multiset of
    (UPOS, FEATS, DEPREL, head's UPOS) per sentence; trees differ only by word order."""
    def signature(sentence):
        return sorted((u, d, sentence.upos[h - 1] if h else "ROOT")
                      for u, d, h in zip(sentence.upos, sentence.deprels, sentence.heads,
                                         strict=True))

    source = read_conllu(corpus / "ud" / "en_lab-ud-test.conllu")
    for lang in LANGS[1:]:
        target = read_conllu(corpus / "ud" / f"{lang}_lab-ud-test.conllu")
        assert [s.sent_id for s in target] == [s.sent_id for s in source]
        for ours, theirs in zip(source, target, strict=True):
            assert signature(ours) == signature(theirs)


def test_word_orders_follow_their_transformation() -> None:
    lexicon = build_lexicon(SIZES, random.Random(0))
    grammar = Grammar(lexicon, SIZES.topics)
    rng = random.Random(1)
    sentences = [grammar.sentence(rng) for _ in range(200)]
    canonical = Language(LanguageSpec("en"), lexicon, frozenset(), random.Random(0))
    inverted = Language(LanguageSpec("zz", orders=frozenset({"invert"})), lexicon, frozenset(),
                        random.Random(0))
    final = Language(LanguageSpec("yy", orders=frozenset({"head-final", "adj-after-noun"})),
                     lexicon, frozenset(), random.Random(0))
    seen_objects = seen_adjectives = 0
    for sentence in sentences:
        rows = canonical.realise(sentence)
        assert [r.form for r in inverted.realise(sentence)] == [r.form for r in rows][::-1]
        for index, row in enumerate(final.realise(sentence), start=1):
            if row.deprel == "obj":
                assert index < row.head  # objects precede their verb
                seen_objects += 1
            if row.deprel == "amod":
                assert index > row.head  # adjectives follow their noun
                seen_adjectives += 1
        for index, row in enumerate(rows, start=1):  # the canonical order is SVO, ADJ NOUN
            assert row.deprel not in ("obj", "amod") or (index > row.head) == (row.deprel == "obj")
    assert seen_objects > 20 and seen_adjectives > 20


def test_vocab_shift_is_a_bijection_with_exact_anchors() -> None:
    lexicon = build_lexicon(SIZES, random.Random(0))
    source = all_forms(lexicon, canonical_vocabulary(lexicon))
    anchored = frozenset(range(0, len(lexicon), 4))
    for script in ("latin", "cyrillic"):
        shifted = Language(LanguageSpec("xx", script), lexicon, anchored, random.Random(5))
        target = all_forms(lexicon, shifted.vocabulary)
        mapping: dict[str, str] = {}
        for key, form in source.items():  # a function on word types (syncretism preserved) ...
            assert mapping.setdefault(form, target[key]) == target[key]
        assert len(set(mapping.values())) == len(mapping)  # ... and injective
        for (lexeme, _), form in source.items():
            assert (target[(lexeme, _)] == form) == (lexeme in anchored)


def test_anchor_sets_are_nested_and_sized(tmp_path: Path) -> None:
    config = GenerateConfig(languages=["en", "aa", "bb"],
                            transforms={"aa": "vocab-shift", "bb": "vocab-shift"},
                            anchor_share={"aa": 0.1, "bb": 0.3}, sentences=30, eval_sentences=5,
                            parallel_sentences=5, sizes=SIZES)
    manifest = generate(config, tmp_path / "d")
    lexemes = manifest["lexemes"]
    assert manifest["languages"]["aa"]["anchored_lexemes"] == round(0.1 * lexemes)
    assert manifest["languages"]["bb"]["anchored_lexemes"] == round(0.3 * lexemes)
    table = [line.split("\t") for line in (tmp_path / "d" / "lexicon.tsv").read_text(
        encoding="utf-8").splitlines()[1:]]
    kept_a = {row[0] for row in table if row[4] == row[3]}
    kept_b = {row[0] for row in table if row[5] == row[3]}
    assert kept_a and kept_a < kept_b


def test_a_copy_is_asked_for_not_made_silently(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"language zz has no transformation"):
        GenerateConfig(languages=("en", "zz"))
    config = GenerateConfig(languages=("en", "xx"), transforms={"xx": "copy"}, sentences=20,
                            eval_sentences=2, parallel_sentences=3, sizes=SIZES)
    generate(config, tmp_path / "d")
    treebank = {lang: (tmp_path / "d" / "ud" / f"{lang}_lab-ud-train.conllu").read_text(
        encoding="utf-8") for lang in ("en", "xx")}
    assert treebank["xx"] == treebank["en"] and config.specs[1].transforms == []


def test_a_seed_fixes_the_corpus(tmp_path: Path) -> None:
    def make(seed: int, name: str) -> str:
        generate(GenerateConfig(languages=["en", "xx"], transforms={"xx": "vocab-shift"},
                                anchor_share=0.1, sentences=20, eval_sentences=2,
                                parallel_sentences=3, seed=seed, sizes=SIZES), tmp_path / name)
        return (tmp_path / name / "ud" / "xx_lab-ud-train.conllu").read_text(encoding="utf-8")

    assert make(1, "a") == make(1, "b") != make(2, "c")


@pytest.mark.parametrize(("languages", "transforms", "share", "message"), [
    (["en", "EN"], {}, 0.1, "2-3 lowercase letters"),
    (["en", "en"], {}, 0.1, "given twice"),
    (["en"], {"xx": "vocab-shift"}, 0.1, "not in --languages"),
    (["en", "xx"], {"xx": "vocab-swap"}, 0.1, "unknown transformation 'vocab-swap'"),
    (["en", "xx"], {"xx": "vocab-shift:klingon"}, 0.1, "unknown script"),
    (["en", "xx"], {}, 1.5, r"must be in \[0, 1\]"),
])
def test_bad_options_are_refused(tmp_path: Path, languages, transforms, share, message) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(GenerateConfig(languages=languages, transforms=transforms, anchor_share=share,
                                sentences=10, sizes=SIZES), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_output_is_kept(corpus: Path) -> None:
    with pytest.raises(AlignscopeError, match="already exists"):
        generate(GenerateConfig(languages=["en"], anchor_share=0.0, sentences=10), corpus)


def test_the_lexicon_is_the_lens_word_list_and_matches_the_parallel_text(corpus: Path) -> None:
    """`lens --words LAB_FOLDER`: every content lexeme in its base form, the translations the
    generator used: in the parallel treebanks of en and xx (a vocabulary shift keeps the word
    order), a base-form word of en faces its listed xx word."""
    from alignscope.analysis.lens.words import read_words

    words = read_words(corpus)
    assert words.layout == "lab" and words.languages == tuple(LANGS)
    assert len(words.concepts) == SIZES.nouns + SIZES.verbs + SIZES.adjectives
    by_english = {c.words["en"]: c.words["xx"] for c in words.concepts}
    assert len(by_english) == len(words.concepts)
    english, shifted = (read_conllu(resolve(f"ud:{lang}_labpud:test", data_dir=corpus).path)
                        for lang in ("en", "xx"))
    checked = 0
    for en_sentence, xx_sentence in zip(english, shifted, strict=True):
        assert en_sentence.upos is not None
        for en_word, upos, xx_word in zip(en_sentence.words, en_sentence.upos,
                                          xx_sentence.words, strict=True):
            if en_word in by_english and upos in ("NOUN", "VERB", "ADJ"):
                assert xx_word == by_english[en_word]
                checked += 1
    assert checked > 20
    assert read_words(corpus / "lexicon.tsv").concepts == words.concepts
