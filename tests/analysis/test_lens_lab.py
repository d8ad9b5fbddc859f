"""The lens on a lab decoder, checked against the generator's truth: `--tasks next-word` items
are the lab model's own held-out sentences, cut before an open-class word, and their latent
answers are that word's translations, which the parallel text of a vocabulary shift confirms
word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.analysis.lens.run import run_lens
from alignscope.analysis.lens.words import read_words
from alignscope.analysis.llm_settings import LensConfig
from alignscope.errors import ConfigError
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.lexicon import LexiconSizes
from alignscope.lab.pretrain import PretrainConfig, pretrain

pytestmark = pytest.mark.slow  # a corpus and a decoder pretrained for the module: ~15 s
SIZES = LexiconSizes(nouns=40, verbs=20, adjectives=10, adverbs=5, names=5, topics=2)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lab")
    generate(GenerateConfig(languages=["en", "xx", "yy"],
                            transforms={"xx": "vocab-shift", "yy": "vocab-shift+head-final"},
                            anchor_share=0.1, sentences=300, eval_sentences=30,
                            parallel_sentences=10, sizes=SIZES), root / "data")
    pretrain(PretrainConfig(corpus=str(root / "data"), objective="clm", vocab_size=300,
                            num_blocks=2, hidden=32, steps=20, batch_size=16, threads=1,
                            device="cpu"), root / "clm", show_progress=False)
    return root / "data", root / "clm"


def test_next_word_items_are_dev_sentences_with_their_translations(lab) -> None:
    data, _ = lab
    words = read_words(data)
    dev = {lang: (data / "text" / f"{lang}.dev.txt").read_text().splitlines()
           for lang in ("en", "xx", "yy")}
    lexicon = [line.split("\t") for line in (data / "lexicon.tsv").read_text().splitlines()[1:]]
    open_class = {row[4]: row[3] for row in lexicon if row[1] in ("NOUN", "VERB", "ADJ", "ADV")}
    by_language = {lang: [c for c in words.contexts if lang in c.context] for lang in dev}
    assert not by_language["en"]  # the source's own words translate to themselves
    for lang in ("xx", "yy"):
        assert 20 <= len(by_language[lang]) <= len(dev[lang])  # at most one per sentence
    for concept in words.contexts:
        (lang, prompt), = concept.context.items()
        line, k = concept.id.removeprefix(f"{lang}-dev-").split(":")
        sentence = dev[lang][int(line) - 1].split()
        assert prompt == " ".join(sentence[:int(k)]) + " " and int(k) > 0
        assert concept.words[lang] == sentence[int(k)] != concept.words["en"]  # no anchor
        if lang == "xx":
            # a vocabulary shift keeps the order: the English sentence holds the translation
            assert dev["en"][int(line) - 1].split()[int(k)] == concept.words["en"]
            assert open_class[concept.words["xx"]] == concept.words["en"]


def test_lens_on_a_lab_decoder_reads_the_next_word(lab) -> None:
    data, model = lab
    result = run_lens(LensConfig(model=str(model), words=str(data), languages=("xx", "yy"),
                                 tasks=("next-word",), lenses=("logit",), answer_tokens="first",
                                 device="cpu"))
    items = result["items"]
    assert {item["task"] for item in items} == {"next-word"}
    counts = result["item_counts"]
    for lang in ("xx", "yy"):
        assert counts[f"next-word:{lang}"]["items"] == sum(i["target"] == lang for i in items) > 10
    for item in items:
        assert item["prompt"].endswith(" ") and item["position"] == len(item["input_ids"]) - 1
        assert item["control"]["en"] != item["latent"]["en"]
    curve = result["curves"]["logit"]["next-word:xx"]
    assert len(curve["target.prob"]["mean"]) == len(result["layers"])


def test_next_word_needs_a_lab_corpus(lab) -> None:
    _, model = lab
    with pytest.raises(ConfigError, match="next-word needs a lab corpus"):
        run_lens(LensConfig(model=str(model), languages=("fr",), tasks=("next-word",),
                            lenses=("logit",), device="cpu"))
