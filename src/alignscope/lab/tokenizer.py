"""A WordPiece tokenizer for the lab, built on `tokenizers`, saved as a standard fast tokenizer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from alignscope.errors import AlignscopeError, ConfigError

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(lines: Iterable[str], vocab_size: int,
                    max_length: int) -> PreTrainedTokenizerFast:
    """BERT-style WordPiece (cased, accents kept): the most frequent words, then every
    character as a word start and as a continuation, so no word is ever [UNK].

    The vocabulary is chosen here, ties broken alphabetically: `tokenizers`' own trainer
    breaks ties differently in every process, and a seed must fix the model.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(
            normalizer.normalize_str(line)))
    characters = sorted({char for word in counts for char in word})
    vocab = [*SPECIALS, *characters, *(f"##{char}" for char in characters)]
    if len(vocab) > vocab_size:
        raise ConfigError(f"--vocab-size {vocab_size} is too small: the corpus has "
                          f"{len(characters)} characters, which need {len(vocab)} entries")
    words = sorted((word for word in counts if len(word) > 1), key=lambda w: (-counts[w], w))
    vocab += words[:vocab_size - len(vocab)]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)},
                                           unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.WordPiece()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]",
                                   pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   mask_token="[MASK]", model_max_length=max_length)


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """A fast tokenizer with a mask token, e.g. the multilingual model's for a control."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
    except OSError as error:
        raise AlignscopeError(f"cannot load a tokenizer from {directory}: {error}") from error
    if not tokenizer.is_fast or tokenizer.mask_token_id is None:
        raise AlignscopeError(f"the tokenizer in {directory} must be a fast tokenizer with a "
                              "mask token")
    return tokenizer
