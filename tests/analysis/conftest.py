"""Fixtures for the analysis tests: a small PUD sample, a perturbed tiny model, a private cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from alignscope.data.parallel import ParallelCorpus, load_parallel

LANGUAGES = ("en", "fr", "de")


@pytest.fixture(scope="session")
def pud_full(shared_data: Path) -> ParallelCorpus:
    return load_parallel("ud:pud", LANGUAGES, shared_data)


@pytest.fixture(scope="session")
def pud_small(pud_full: ParallelCorpus) -> ParallelCorpus:
    return pud_full.subsample(40, seed=0)


@pytest.fixture(scope="session")
def pud_text(pud_small: ParallelCorpus, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small PUD sample as line-aligned text files: a `--parallel` template, fast to read."""
    folder = tmp_path_factory.mktemp("pud_text")
    for lang in LANGUAGES:
        (folder / f"{lang}.txt").write_text("\n".join(pud_small.texts[lang]) + "\n",
                                            encoding="utf-8")
    return str(folder / "{lang}.txt")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """These workloads are tiny: a second intra-op thread only adds synchronisation, which
    costs up to 50x when other processes hold the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Features cached by one test never leak into another."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bert_tuned(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for a fine-tuned checkpoint: tiny_bert with the weight matrices of its last
    two layers redrawn large enough to move the residual stream, saved as a finetune run folder
    (checkpoint/encoder/)."""
    run = tmp_path_factory.mktemp("tuned_run")
    model = AutoModel.from_pretrained(tiny_bert)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(("encoder.layer.2.", "encoder.layer.3.")) and \
                    name.endswith("dense.weight"):
                parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    model.save_pretrained(run / "checkpoint" / "encoder")
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(run / "checkpoint" / "encoder")
    return run


@pytest.fixture(scope="session")
def causal_models(tmp_path_factory: pytest.TempPathFactory, pud_full: ParallelCorpus
                  ) -> dict[str, Path]:
    """Tiny random GPT-2 (byte-level BPE, no pad token) and Llama (SentencePiece-style BPE with
    BOS, no pad token), tokenizers trained on real PUD sentences; padding_side "left", which
    extraction must ignore."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2Model, LlamaConfig, LlamaModel, PreTrainedTokenizerFast

    lines = [text for lang in LANGUAGES for text in pud_full.texts[lang][:300]]
    saved = {}
    for name in ("gpt2", "llama"):
        if name == "gpt2":
            tokenizer = Tokenizer(models.BPE())
            tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
            tokenizer.decoder = decoders.ByteLevel()
            specials, alphabet = ["<|endoftext|>"], pre_tokenizers.ByteLevel.alphabet()
        else:
            tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
            tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
            tokenizer.decoder = decoders.Metaspace()
            specials, alphabet = ["<unk>", "<s>", "</s>"], []
        tokenizer.train_from_iterator(lines, trainers.BpeTrainer(
            vocab_size=500, special_tokens=specials, initial_alphabet=alphabet))
        if name == "llama":
            tokenizer.post_processor = processors.TemplateProcessing(
                single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
        tokens = {"eos_token": specials[-1], "bos_token": specials[-2 if name == "llama" else 0],
                  "unk_token": specials[0]}
        fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, padding_side="left", **tokens)
        torch.manual_seed(0)
        if name == "gpt2":
            model = GPT2Model(GPT2Config(vocab_size=len(fast), n_embd=32, n_layer=3, n_head=4,
                                         n_positions=512))
        else:
            model = LlamaModel(LlamaConfig(vocab_size=len(fast), hidden_size=32,
                                           intermediate_size=64, num_hidden_layers=3,
                                           num_attention_heads=4, num_key_value_heads=2,
                                           max_position_embeddings=512))
        directory = tmp_path_factory.mktemp(name)
        model.save_pretrained(directory)
        fast.save_pretrained(directory)
        saved[name] = directory
    return saved
