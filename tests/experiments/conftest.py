"""Fixtures for the sweep tests: tiny experiments over the real UD data, a private cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(folder))
    return folder


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_experiment(model_dir: Path, data: Path, **overrides: Any) -> dict[str, Any]:
    """2 layer groups (REF, block.0-1) x 2 seeds of POS, a few sentences each."""
    experiment: dict[str, Any] = {
        "name": "tiny", "model": str(model_dir), "data_dir": str(data), "seeds": [1, 2],
        "tasks": {"pos": {"source": "ud:en_ewt", "targets": ["ud:fr_pud", "ud:de_pud"]}},
        "random_init": {"reference": True, "groups": ["block.0-1"]},
        "finetune": {"epochs": 1, "lr": 2e-3, "batch_size": 16, "max_train_sentences": 32,
                     "max_dev_sentences": 4, "max_eval_sentences": 8},
        "threads": 1}
    experiment.update(overrides)
    return experiment


@pytest.fixture(scope="session")
def experiment(tiny_bert: Path, data_slices: Path) -> Callable[..., dict[str, Any]]:
    return lambda **overrides: tiny_experiment(tiny_bert, data_slices, **overrides)


ANALYSES = {"languages": ["fr", "de", "ru"], "settings": {"max_sentences": 12, "seed": 0},
            "similarity": {"pretrained": True, "finetuned": True,
                           "settings": {"measures": ["linear"], "controls": ["shuffled"]}},
            "stability": {"groups": "all", "settings": {"measures": ["linear"]}},
            "correlation": {"groups": ["REF"]}}
THREE_TARGETS = {"pos": {"source": "ud:en_ewt",
                         "targets": ["ud:fr_pud", "ud:de_pud", "ud:ru_pud"]}}


@pytest.fixture(scope="session")
def full_experiment(experiment: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The tiny experiment with every analysis (correlation needs three targets)."""
    return experiment(analyses=ANALYSES, tasks=THREE_TARGETS)


@pytest.fixture(scope="session")
def full_sweep(full_experiment: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
               ) -> Path:
    """The full tiny experiment, run once (read-only: tests that alter it copy it)."""
    from alignscope.experiments.sweep import run_sweep

    out = tmp_path_factory.mktemp("full") / "out"
    cache = tmp_path_factory.mktemp("full-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALIGNSCOPE_CACHE", str(cache))
        result = run_sweep(full_experiment, out, progress=False)
    assert set(result.statuses.values()) == {"done"}, result.statuses
    return out


LLM_ANALYSES = {
    "languages": ["fr", "de"], "settings": {"seed": 0},
    "lens": {"settings": {"lenses": ["logit"], "tasks": ["translation", "repetition"],
                          "max_items": 2}},
    "neurons": {"settings": {"max_sentences": 12, "ppl_sentences": 4, "top_rate": 0.1,
                             "filter_rate": 0.8, "bar_ratio": 0.8}}}


@pytest.fixture(scope="session")
def llm_experiment(lm_families: dict[str, Path], data_slices: Path,
                   ) -> Callable[..., dict[str, Any]]:
    """A tiny decoder (with its LM head): POS REF x 1 seed, the lens and the neurons; keyword
    arguments replace keys of `analyses`."""
    return lambda **analyses: tiny_experiment(
        lm_families["llama"], data_slices, seeds=[1], random_init={"reference": True},
        analyses={**LLM_ANALYSES, **analyses})
