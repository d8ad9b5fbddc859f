"""A WordPiece tokenizer for the lab, built on `tokenizers`, saved as a standard fast tokenizer.

The masked-LM (BERT) tokenizer wraps a sentence in [CLS] ... [SEP] and has [MASK]; the causal-LM
(Llama-style) tokenizer has the same vocabulary with [BOS] and [EOS] instead, prepends [BOS]
like Llama's and adds no [EOS] (pretraining appends it to teach where a sentence ends).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from alignscope.errors import ConfigError

SPECIALS = {"mlm": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            "clm": ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]}
# Per objective: the single and pair templates, and the special tokens they (and MLM) use.
_TEMPLATES = {
    "mlm": ("[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]",
            {"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}),
    "clm": ("[BOS] $A", "[BOS] $A [EOS] $B", {"bos_token": "[BOS]", "eos_token": "[EOS]"}),
}


def train_wordpiece(lines: Iterable[str], vocab_size: int, max_length: int,
                    objective: str = "mlm") -> PreTrainedTokenizerFast:
    """BERT-style WordPiece (cased, accents kept): the most frequent words, then every
    character as a word start and as a continuation, so no word is ever [UNK]. `objective`
    (mlm | clm) chooses the special tokens (module docstring).

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
    vocab = [*SPECIALS[objective], *characters, *(f"##{char}" for char in characters)]
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
    single, pair, roles = _TEMPLATES[objective]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, pair=pair,
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in roles.values()
                        if token in single + pair])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]",
                                   pad_token="[PAD]", model_max_length=max_length, **roles)


# The special tokens each objective's pretraining needs from a reused tokenizer.
_NEEDED = {"mlm": ("pad_token", "mask_token"), "clm": ("pad_token", "bos_token", "eos_token")}


def load_tokenizer(directory: str | Path, objective: str = "mlm") -> PreTrainedTokenizerFast:
    """A fast tokenizer with the special tokens `objective` needs (a mask token for mlm; pad,
    BOS and EOS for clm), e.g. the multilingual model's for a control."""
    if not Path(directory).is_dir():  # not a hub id: the lab reuses its own models' tokenizers
        raise ConfigError(f"--tokenizer {directory}: no such folder",
                          "give the folder of a model whose tokenizer to reuse (e.g. a `lab "
                          "pretrain` output), or leave --tokenizer out")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError) as error:
        raise ConfigError(f"--tokenizer {directory}: no tokenizer can be read from this folder "
                          f"({str(error).splitlines()[0]})",
                          "give the folder of a model saved with its tokenizer") from None
    missing = [name for name in _NEEDED[objective] if getattr(tokenizer, name) is None]
    if not tokenizer.is_fast or missing:
        raise ConfigError(f"--tokenizer {directory}: {objective} pretraining needs a fast "
                          f"tokenizer with {', '.join(_NEEDED[objective])}"
                          + (f" (it has no {', '.join(missing)})" if missing else ""),
                          f"reuse the tokenizer of a model pretrained with --objective "
                          f"{objective}, or leave --tokenizer out")
    return tokenizer
