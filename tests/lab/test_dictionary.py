"""The lab's ground truth: the lexicon file is what the treebanks say translates what, and
word translation retrieval is scored against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from alignscope.analysis.words import _precision_at_1, _type_vectors
from alignscope.data.conllu import read_conllu
from alignscope.errors import AlignscopeError, DataFormatError, UnknownNameError
from alignscope.lab import read_lexicon
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.lexicon import LexiconSizes

SIZES = LexiconSizes(nouns=40, verbs=20, adjectives=10, adverbs=5, names=5, topics=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "data"
    generate(GenerateConfig(languages=["en", "xx", "yy"],
                            transforms={"xx": "vocab-shift", "yy": "vocab-shift:greek+head-final"},
                            anchor_share=0.2, sentences=120, eval_sentences=10,
                            parallel_sentences=20, sizes=SIZES), out)
    return out


def test_the_lexicon_says_what_the_treebanks_translate(corpus: Path) -> None:
    """Every word of every parallel sentence, paired with the target word of the same lexeme
    (found by its position in the tree: same order for xx), is a translation in the lexicon;
    a form names one lexeme."""
    lexicon = read_lexicon(corpus)
    assert lexicon.languages == ("en", "xx", "yy")
    en = read_conllu(corpus / "ud" / "en_labpud-ud-test.conllu")
    xx = read_conllu(corpus / "ud" / "xx_labpud-ud-test.conllu")
    translations = lexicon.translations("en", "xx")
    pairs = [(a, b) for s, t in zip(en, xx, strict=True)
             for a, b in zip(s.words, t.words, strict=True)]
    assert pairs and all(b in translations[a] for a, b in pairs)
    assert all(len(targets) == 1 for targets in translations.values())  # a bijection of types
    anchors = lexicon.anchors("en", "xx")
    assert anchors and {a for a, b in pairs if a == b} <= anchors
    assert lexicon.anchors("en", "en") == set(translations)
    lexemes = lexicon.lexemes("yy")
    assert len(lexemes) == len({(e.lexeme, e.forms["yy"]) for e in lexicon.entries})
    assert lexicon.upos("en")["the"] == "DET"
    with pytest.raises(UnknownNameError, match="zz"):
        lexicon.translations("en", "zz")


def test_a_damaged_lexicon_is_an_error_naming_the_line(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "lexicon.tsv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "lexicon.tsv"
    bad.write_text("\n".join([lines[0], lines[1], "7\tDET\t_\tonly-one-form"]) + "\n",
                   encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"lexicon\.tsv:3: expected 6 tab-separated"):
        read_lexicon(tmp_path)
    with pytest.raises(AlignscopeError, match=r"nowhere not found: a lab corpus folder"):
        read_lexicon(tmp_path / "nowhere")


def test_type_vectors_and_precision_match_numpy() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(7, 3))
    index = [0, 1, 0, 2, 1, 2, 2]
    vectors = _type_vectors(torch.tensor(rows), (torch.tensor(index), ["a", "b", "c"]))
    means = np.stack([rows[[i for i, t in enumerate(index) if t == k]].mean(0) for k in range(3)])
    means -= means.mean(0)
    np.testing.assert_allclose(vectors.numpy(), means / np.linalg.norm(means, axis=1)[:, None])
    source = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=torch.float64)
    target = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    # nearest targets: 1, 0, 0 -> queries 0 and 2 with answers {1} and {1}: one right of two
    assert _precision_at_1(source, target, [0, 2], [{1}, {1}]) == 0.5
    assert _precision_at_1(source, target, [], []) is None


def test_word_retrieval_of_a_pretrained_model(corpus: Path, tmp_path: Path) -> None:
    from alignscope.analysis.words import word_retrieval
    from alignscope.lab.options import PretrainConfig
    from alignscope.lab.pretrain import pretrain

    pretrain(PretrainConfig(corpus=str(corpus), vocab_size=400, num_blocks=2, hidden=32, steps=5,
                            batch_size=8, threads=1, device="cpu"), tmp_path / "m",
             show_progress=False)
    result = word_retrieval(tmp_path / "m", corpus, "en", ["xx", "yy"])
    assert result["layers"] == ["embeddings", "block.0", "block.1"]
    translations = read_lexicon(corpus).translations("en", "xx")
    for scores in result["targets"].values():
        assert len(scores["precision_at_1"]) == 3
        assert all(0 <= value <= 1 for value in scores["precision_at_1"])
        assert scores["chance"] == 1 / scores["candidates"]
    # the queries are the source words of the parallel set that are not anchors
    en = {w for s in read_conllu(corpus / "ud" / "en_labpud-ud-test.conllu") for w in s.words}
    assert result["targets"]["xx"]["queries"] == sum(w not in translations[w] for w in en)
