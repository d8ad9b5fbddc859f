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
def pud_full(data_slices: Path) -> ParallelCorpus:
    return load_parallel("ud:pud", LANGUAGES, data_slices)


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
