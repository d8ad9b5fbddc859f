"""Shared fixtures: slices of real UD/WikiANN files (tests/data), and tiny models built from them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The first sentences of real UD and WikiANN files with their licences, laid out as a data
# directory (ud/UD_*/..., wikiann/LANG/...): tests/data/README.md says which and from where.
DATA_SLICES = Path(__file__).resolve().parent / "data"
# Whole files, outside the repository: only `slow` tests read them, and skip without them.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="session")
def data_slices() -> Path:
    """The data directory of tests/data: slices of the real files, committed with the tests."""
    return DATA_SLICES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The whole real files of ../shared/data (for `slow` tests that need every sentence)."""
    if not (SHARED_DATA / "ud").is_dir():
        pytest.skip(f"the whole UD/WikiANN files are not at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


def _corpus_lines(data: Path) -> list[str]:
    from alignscope.data.conllu import read_conllu

    lines: list[str] = []
    for path in [data / "ud/UD_English-EWT/en_ewt-ud-train.conllu",
                 *sorted(data.glob("ud/UD_*-PUD/*.conllu"))]:
        lines.extend(" ".join(s.words) for s in read_conllu(path))
    return lines


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, data_slices: Path) -> Path:
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
    tokenizer.train_from_iterator(_corpus_lines(data_slices),
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


# Models built outside the repository by ../shared/tools (hundreds of MB): the tests that need
# one are opt-in, run when its variable points at it and deselected (counted, with how to run
# them, in the header) otherwise.
REAL_MODELS = {"e5_dir": ("ALIGNSCOPE_E5_DIR", "config.json"),
               "decoder_dir": ("ALIGNSCOPE_DECODER_DIR", "config.json"),
               "decoder_gguf": ("ALIGNSCOPE_DECODER_GGUF", None)}


def _real_model_missing(fixture: str) -> bool:
    variable, inside = REAL_MODELS[fixture]
    value = os.environ.get(variable)
    if not value:
        return True
    path = Path(value)
    return not ((path / inside).is_file() if inside else path.is_file())


_DESELECTED = pytest.StashKey[tuple[int, list[str]]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {fixture for fixture in REAL_MODELS if _real_model_missing(fixture)}
    needs = {item: missing & set(getattr(item, "fixturenames", ())) for item in items}
    deselected = [item for item in items if needs[item]]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not needs[item]]
        variables = sorted({REAL_MODELS[fixture][0] for item in deselected for fixture in needs[item]})
        config.stash[_DESELECTED] = (len(deselected), variables)


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    if _DESELECTED not in config.stash:
        return None
    count, variables = config.stash[_DESELECTED]
    return (f"{count} tests of the real offline models deselected: set {', '.join(variables)} "
            "(built by ../shared/tools/make_offline_*.py) to run them")


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    """The real 12-layer offline encoder (slow tests only)."""
    value = os.environ.get("ALIGNSCOPE_E5_DIR")
    if not value or not (Path(value) / "config.json").is_file():
        pytest.skip("set ALIGNSCOPE_E5_DIR to a checkpoint built by "
                    "../shared/tools/make_offline_encoder.py")
    return Path(value)


@pytest.fixture(scope="session")
def decoder_dir() -> Path:
    """The real Gemma 3 270M decoder as a checkpoint folder (slow tests only)."""
    value = os.environ.get("ALIGNSCOPE_DECODER_DIR")
    if not value or not (Path(value) / "config.json").is_file():
        pytest.skip("set ALIGNSCOPE_DECODER_DIR to a checkpoint built by "
                    "../shared/tools/make_offline_decoder.py")
    return Path(value)


@pytest.fixture(scope="session")
def decoder_gguf(decoder_dir: Path) -> Path:
    """The GGUF file the decoder checkpoint was built from (slow tests only)."""
    value = os.environ.get("ALIGNSCOPE_DECODER_GGUF")
    if not value or not Path(value).is_file():
        pytest.skip("set ALIGNSCOPE_DECODER_GGUF to the assembled gemma-3-270m-q4_k_m.gguf "
                    "(make_offline_decoder.py --keep-gguf)")
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


# --- tiny random models of each family ------------------------------------------------------
# Saved with `save_pretrained` beside a fast tokenizer trained on real UD sentences; tests reload
# them with `from_pretrained`, so every tensor carries transformers' `_is_hf_initialized` flag.
# Every tensor is perturbed away from the values a re-initialisation would give it.

FAMILY_NAMES = ("llama", "qwen2", "gemma", "gemma3", "gpt2", "bert", "xlm-roberta")


def _family_configs() -> dict[str, tuple[Any, str]]:
    """family -> (config with a 3-layer, 32-wide model, tokenizer style)."""
    from transformers import (
        BertConfig,
        Gemma3TextConfig,
        GemmaConfig,
        GPT2Config,
        LlamaConfig,
        Qwen2Config,
        XLMRobertaConfig,
    )

    common = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
              "num_attention_heads": 4, "max_position_embeddings": 256,
              "initializer_range": 0.05}
    decoder = {**common, "num_key_value_heads": 2}
    return {
        "llama": (LlamaConfig(**decoder), "sentencepiece-bos"),
        "qwen2": (Qwen2Config(**decoder), "byte-level"),
        "gemma": (GemmaConfig(head_dim=8, **decoder), "sentencepiece-bos"),
        # Gemma 3: sliding-window and global layers (a window of 4 tokens, so it matters on
        # every real sentence), q/k norms, sqrt(d) embedding scale, tied embeddings, and a
        # query scale that is not 1/sqrt(head_dim).
        "gemma3": (Gemma3TextConfig(
            head_dim=8, sliding_window=4, query_pre_attn_scalar=16, tie_word_embeddings=True,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
            **decoder), "sentencepiece-bos"),
        "gpt2": (GPT2Config(n_embd=32, n_layer=3, n_head=4, n_positions=256,
                            initializer_range=0.05), "byte-level"),
        "bert": (BertConfig(**common), "wordpiece"),
        "xlm-roberta": (XLMRobertaConfig(pad_token_id=1, **common), "sentencepiece-pair"),
    }


def _family_lines(data: Path) -> list[str]:
    from alignscope.data.conllu import read_conllu

    lines = []
    for path in [data / "ud/UD_English-EWT/en_ewt-ud-train.conllu",
                 *sorted(data.glob("ud/UD_*-PUD/*.conllu"))[:6]]:
        lines.extend(" ".join(s.words) for s in read_conllu(path, limit=200))
    return lines


def _family_tokenizer(style: str, lines: list[str], wordpiece: Path) -> Any:
    """Byte-level BPE without a padding token (GPT-2, Qwen2), SentencePiece-style BPE with a
    BOS and no padding token (Llama, Gemma) or with <s> ... </s> and <pad> (XLM-R)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if style == "wordpiece":  # the tokenizer of the tiny_bert fixture
        return PreTrainedTokenizerFast.from_pretrained(wordpiece)
    if style == "byte-level":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        specials, alphabet = ["<|endoftext|>"], pre_tokenizers.ByteLevel.alphabet()
    else:
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        specials, alphabet = ["<unk>", "<s>", "</s>", "<pad>"], []
    tokenizer.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, initial_alphabet=alphabet))
    if style == "byte-level":
        return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                       bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    ids = {token: tokenizer.token_to_id(token) for token in specials}
    template = "<s> $A" if style == "sentencepiece-bos" else "<s> $A </s>"
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, ids[t]) for t in ("<s>", "</s>")])
    pad = {} if style == "sentencepiece-bos" else {"pad_token": "<pad>"}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>",
                                   bos_token="<s>", eos_token="</s>", **pad)


def save_family_model(config: Any, tokenizer: Any, directory: Path, seed: int = 0,
                      head: bool = False) -> Path:
    """A random model of `config` (with `head` the whole LM: causal, or masked for BERT; the
    base model otherwise), every tensor perturbed, saved beside `tokenizer`."""
    import copy

    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

    config = copy.deepcopy(config)
    text = config.get_text_config()
    text.vocab_size = len(tokenizer)
    text.bos_token_id, text.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    torch.manual_seed(seed)
    auto = (AutoModelForMaskedLM if config.model_type == "bert" else AutoModelForCausalLM) \
        if head else AutoModel
    model = auto.from_config(config)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _save_families(configs: dict[str, tuple[Any, str]], root: Path, data: Path, tiny_bert: Path,
                   head: bool = False) -> dict[str, Path]:
    lines = _family_lines(data)
    tokenizers: dict[str, Any] = {}
    saved = {}
    for family, (config, style) in configs.items():
        if style not in tokenizers:
            tokenizers[style] = _family_tokenizer(style, lines, tiny_bert)
        saved[family] = save_family_model(config, tokenizers[style], root / family,
                                           head=head)
    return saved


@pytest.fixture(scope="session")
def family_model() -> Any:
    """`save_family_model`, for tests that build a model of their own."""
    return save_family_model


@pytest.fixture(scope="session")
def families(tmp_path_factory: pytest.TempPathFactory, data_slices: Path,
             tiny_bert: Path) -> dict[str, Path]:
    """family -> directory of a tiny saved model (3 blocks, hidden 32) and its tokenizer."""
    return _save_families(_family_configs(), tmp_path_factory.mktemp("families"), data_slices,
                          tiny_bert)


@pytest.fixture(scope="session")
def lm_families(tmp_path_factory: pytest.TempPathFactory, data_slices: Path,
                tiny_bert: Path) -> dict[str, Path]:
    """family -> a tiny LM saved with its head: Llama (untied head), Gemma 3 (tied, logit
    soft-capping), GPT-2, BERT (masked-LM head); 3 blocks, hidden 32."""
    from transformers import Gemma3TextConfig

    configs = _family_configs()
    gemma3 = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                              max_position_embeddings=256, sliding_window=4,
                              final_logit_softcapping=5.0, initializer_range=0.05)
    chosen = {"llama": configs["llama"], "gemma3": (gemma3, "sentencepiece-bos"),
              "gpt2": configs["gpt2"], "bert": configs["bert"]}
    return _save_families(chosen, tmp_path_factory.mktemp("lm_families"), data_slices,
                          tiny_bert, head=True)


@pytest.fixture(scope="session")
def llava(tmp_path_factory: pytest.TempPathFactory, families: dict[str, Path]) -> Path:
    """A multimodal wrapper whose config nests the tiny Llama as its `text_config`."""
    from transformers import CLIPVisionConfig, LlavaConfig, PreTrainedTokenizerFast

    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                              num_attention_heads=2, image_size=8, patch_size=4)
    config = LlavaConfig(text_config=_family_configs()["llama"][0].to_dict(),
                         vision_config=vision.to_dict())
    tokenizer = PreTrainedTokenizerFast.from_pretrained(families["llama"])
    return save_family_model(config, tokenizer, tmp_path_factory.mktemp("llava"))


# --- real kills at chosen points ------------------------------------------------------------
_KILLED_CHILD = """
import os, signal, sys
from alignscope import train_state
from alignscope.training.loop import Loop
from alignscope.training.predict import Predictor
CALLS = {}
def kill():
    os.kill(os.getpid(), signal.SIGKILL)
def arm(owner, name, when):
    real, calls = getattr(owner, name), [0]
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if when(calls[0], *args):
            kill()
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)
def count(owner, name):
    real = getattr(owner, name)
    CALLS[name] = 0
    def wrapper(*args, **kwargs):
        CALLS[name] += 1
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)
%s
from alignscope.cli import app
app(sys.argv[1:])
"""


@pytest.fixture(scope="session")
def killed_cli() -> Callable[[str, list[str]], int]:
    """Runs `alignscope ARGS` in a child process that first runs `setup`: Python that arms a
    SIGKILL of the child itself with `arm(owner, name, when)` (killed at the call for which
    `when(calls, *args)` holds), `count(owner, name)` (calls in CALLS[name]) and `kill()`.
    Returns the exit status: -9 when it was killed."""
    import subprocess
    import sys

    import alignscope

    def run(setup: str, args: list[str]) -> int:
        env = {**os.environ, "PYTHONPATH": str(Path(alignscope.__file__).parents[1])}
        return subprocess.run([sys.executable, "-c", _KILLED_CHILD % setup, *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=600).returncode

    return run
