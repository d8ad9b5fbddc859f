"""Shared fixtures: the real data in ../shared/data, and tiny models built from it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def require_shared_data() -> Path:
    if not (SHARED_DATA / "ud").is_dir():
        pytest.skip(f"real UD/WikiANN data not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared_data()


def _corpus_lines(data: Path) -> list[str]:
    from alignscope.data.conllu import read_conllu

    lines: list[str] = []
    for path in [data / "ud/UD_English-EWT/en_ewt-ud-train.conllu",
                 *sorted(data.glob("ud/UD_*-PUD/*.conllu"))]:
        lines.extend(" ".join(s.words) for s in read_conllu(path, limit=400))
    return lines


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A 2-layer BertModel with a WordPiece vocabulary trained on real UD sentences."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(_corpus_lines(shared_data),
                                  WordPieceTrainer(vocab_size=3000, special_tokens=SPECIALS))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]",
                                   pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   mask_token="[MASK]", model_max_length=128)
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32,
                        num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, pad_token_id=0)
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    """The real 12-layer offline encoder (slow tests only)."""
    value = os.environ.get("ALIGNSCOPE_E5_DIR")
    if not value or not (Path(value) / "config.json").is_file():
        pytest.skip("set ALIGNSCOPE_E5_DIR to a checkpoint built by "
                    "../shared/tools/make_offline_encoder.py")
    return Path(value)


@pytest.fixture
def first_sentences(tmp_path: Path) -> Callable[[Path, str, int], Path]:
    """Copies the first `count` blank-line separated sentences of a data file to tmp_path/name."""

    def copy(source: Path, name: str, count: int) -> Path:
        blocks = source.read_text(encoding="utf-8").split("\n\n")[:count]
        target = tmp_path / name
        target.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
        return target

    return copy


@pytest.fixture(scope="session")
def check_result() -> Callable[[Path], dict]:
    """Validates a written result file against the committed docs/results.schema.json, and
    reads it back with load_run; returns its data."""
    import json

    import jsonschema

    from alignscope.runs import load_run

    schema_file = Path(__file__).resolve().parents[1] / "docs" / "results.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))

    def check(path: Path) -> dict:
        data = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)
        run = load_run(path)
        assert (run.schema_version, run.kind, run.data) == (2, data["kind"], data)
        return data

    return check


@pytest.fixture(scope="session")
def result_header() -> Callable[..., dict]:
    """The version-2 header of a hand-made result file of `kind` (docs/results.md)."""

    def header(kind: str, **fields: object) -> dict:
        return {"schema_version": 2, "kind": kind, "source_language": "en", "random_init": [],
                "model": {"name": "tiny", "source": None}, "config": {}, "versions": {},
                "created": "2026-12-01T00:00:00+00:00", **fields}

    return header
