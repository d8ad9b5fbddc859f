from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from alignscope.data.conllu import read_conllu
from alignscope.encoding.words import WordAligner


def sentencepiece_like(words: list[str]) -> PreTrainedTokenizerFast:
    """A Unigram + Metaspace tokenizer (XLM-R family) that, like the real one, has a bare `▁`
    piece and no `▁X` piece for CJK characters, so CJK words split as ['▁', '的']."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    chars = sorted({c for w in words for c in w if ord(c) > 0x2E80})
    latin = sorted({w for w in words if w.isascii()})
    vocab = [(t, 0.0) for t in specials] + [("▁", -2.0)] + [(c, -3.0) for c in chars]
    vocab += [(f"▁{w}", -1.0) for w in latin] + [(c, -8.0) for c in "abcdefghijklmnopqrstuvwxyz."]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>", cls_token="<s>",
                                   sep_token="</s>")


def anchored_tokens(aligner: WordAligner, words: list[str]) -> list[str]:
    [encoded], _ = aligner.encode([words])
    tokenizer = aligner.tokenizer
    return [tokenizer.convert_ids_to_tokens(encoded.windows[w][p])
            for w, p in zip(encoded.word_window, encoded.word_position, strict=True)]


@pytest.mark.parametrize("treebank", ["UD_Chinese-PUD/zh_pud", "UD_Japanese-PUD/ja_pud"])
def test_cjk_words_anchor_on_content_not_on_bare_boundary(data_slices: Path, treebank: str) -> None:
    sentences = read_conllu(data_slices / f"ud/{treebank}-ud-test.conllu", limit=50)
    words = [w for s in sentences for w in s.words]
    tokenizer = sentencepiece_like(words)
    raw = tokenizer(list(sentences[0].words), is_split_into_words=True, add_special_tokens=False)
    first_pieces = {}
    for token, word in zip(raw.tokens(), raw.word_ids(), strict=True):
        first_pieces.setdefault(word, token)
    assert list(first_pieces.values()).count("▁") > len(first_pieces) // 2  # the trap is real
    aligner = WordAligner(tokenizer, 128)
    for sentence in sentences:
        anchors = anchored_tokens(aligner, list(sentence.words))
        assert "▁" not in anchors
        for word, anchor in zip(sentence.words, anchors, strict=True):
            assert (anchor.lstrip("▁") and anchor.lstrip("▁")[0] == word[0]) or anchor == "<unk>"


def test_bert_anchor_is_first_subword(tiny_bert: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    aligner = WordAligner(tokenizer, 128)
    words = ["Internationalisation", "is", "hard"]
    pieces = tokenizer.tokenize("Internationalisation")
    assert len(pieces) > 1
    assert anchored_tokens(aligner, words)[0] == pieces[0]


def test_long_sentences_are_windowed_and_every_word_kept(tiny_bert: Path,
                                                         data_slices: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    sentences = read_conllu(data_slices / "ud/UD_English-EWT/en_ewt-ud-dev.conllu", limit=200)
    longest = max(sentences, key=len)
    aligner = WordAligner(tokenizer, 16)
    [encoded], report = aligner.encode([longest.words])
    assert len(encoded.windows) > 1 and report.windowed_sentences == 1
    assert all(len(window) <= 16 for window in encoded.windows)
    assert encoded.num_words == len(longest)
    # Each word is read from a window holding its own first subword.
    for index, word in enumerate(longest.words):
        window = encoded.windows[encoded.word_window[index]]
        token = tokenizer.convert_ids_to_tokens(window[encoded.word_position[index]])
        assert token == tokenizer.tokenize(word)[0]
    # Consecutive windows overlap, so words near a cut still see context on both sides.
    for left, right in zip(encoded.windows, encoded.windows[1:], strict=False):
        assert set(left[1:-1]) & set(right[1:-1])


def test_words_without_subwords_become_unknown(tiny_bert: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    aligner = WordAligner(tokenizer, 128)
    [encoded], report = aligner.encode([["a", "\u200b", "b"]])
    assert encoded.num_words == 3 and report.empty_words_replaced_by_unk == 1
    window = encoded.windows[0]
    assert window[encoded.word_position[1]] == tokenizer.unk_token_id


@pytest.mark.slow
def test_real_xlmr_tokenizer_never_anchors_on_bare_piece(e5_dir: Path, data_slices: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(e5_dir)
    aligner = WordAligner(tokenizer, 128)
    for treebank in ("UD_Chinese-PUD/zh_pud", "UD_Japanese-PUD/ja_pud"):
        sentences = read_conllu(data_slices / f"ud/{treebank}-ud-test.conllu", limit=200)
        encoded, report = aligner.encode([s.words for s in sentences])
        assert report.words_anchored_on_bare_piece == 0
        bare = tokenizer.convert_tokens_to_ids("▁")
        assert all(item.windows[w][p] != bare for item in encoded
                   for w, p in zip(item.word_window, item.word_position, strict=True))


def test_byte_level_words_get_their_running_text_pieces(data_slices: Path) -> None:
    """Qwen2 / Llama 3 style: Split + ByteLevel(add_prefix_space=False); a pre-split word must
    be read as in running text (' Haus' -> 'ĠHaus'), not glued to the previous word."""
    sentences = read_conllu(data_slices / "ud/UD_German-PUD/de_pud-ud-test.conllu", limit=60)
    lines = [" ".join(s.words) for s in sentences]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r" ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="a")
    aligner = WordAligner(fast, 512, anchor="last")
    assert aligner.space_before_words
    encoded, _ = aligner.encode([s.words for s in sentences])
    for line, item in zip(lines, encoded, strict=True):
        assert list(item.windows[0]) == fast(line, add_special_tokens=False)["input_ids"]
