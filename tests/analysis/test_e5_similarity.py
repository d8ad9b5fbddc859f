"""Slow: the real 12-layer offline encoder on real PUD sentences (ALIGNSCOPE_E5_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.analysis.similarity import SimilarityConfig, run_similarity


@pytest.mark.slow
def test_parallel_curves_stand_above_the_controls(e5_dir: Path, data_slices: Path) -> None:
    result = run_similarity(SimilarityConfig(
        model=str(e5_dir), targets=("fr", "zh"), data_dir=str(data_slices), max_sentences=100,
        measures=("linear", "debiased", "retrieval"), device="cpu"))
    assert len(result["layers"]) == 13
    values = result["results"]
    for lang in ("fr", "zh"):
        for layer in range(13):
            assert values["linear"]["parallel"][lang][layer] > \
                values["linear"]["shuffled"][lang][layer] + 0.2
            assert abs(values["debiased"]["shuffled"][lang][layer]) < 0.05  # unbiased: ~0
        # A random model's mean-pooled features encode sentence length, which translations
        # share, so its CKA stays high (see docs/analysis.md); retrieval is not fooled.
        assert max(values["retrieval"]["parallel"][lang]) > 0.9
        assert max(values["retrieval"]["random-init"][lang]) < 0.5
        assert max(values["retrieval"]["shuffled"][lang]) < 0.05


@pytest.mark.slow
def test_length_partialling_puts_the_random_model_below(e5_dir: Path, data_slices: Path) -> None:
    result = run_similarity(SimilarityConfig(
        model=str(e5_dir), targets=("fr", "ja"), data_dir=str(data_slices), max_sentences=100,
        measures=("debiased",), controls=("random-init",), partial_length=True, device="cpu"))
    values = result["results"]["debiased"]
    for lang in ("fr", "ja"):
        parallel, random = values["parallel"][lang], values["random-init"][lang]
        assert all(r < p for r, p in zip(random, parallel, strict=True))
        assert all(r < p - 0.2 for r, p in zip(random[3:], parallel[3:], strict=True))
