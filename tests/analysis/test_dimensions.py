"""Outlier dimensions: the per-dimension statistics and `standardise`, against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy_reference import linear_cka, z_scores
from scipy.stats import kurtosis

from alignscope.analysis.adjust import standardise
from alignscope.analysis.dimensions import dimension_statistics
from alignscope.analysis.features import ExtractionOptions, FeatureExtractor
from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.data.parallel import ParallelCorpus
from alignscope.models.encoder import load_encoder


def with_outliers(n: int = 120, d: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two views of a shared signal, each with two huge dimensions of its own: a large mean
    and a large variance, independent of the signal, as in decoder hidden states."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d))
    views = []
    for _ in range(2):
        view = shared + 0.3 * rng.normal(size=(n, d))
        view[:, 5] = 300 + 80 * rng.normal(size=n)
        view[:, 17] = -900 + 40 * rng.normal(size=n)
        views.append(view)
    return views[0], views[1]


def test_statistics_equal_numpy_and_find_the_planted_dimensions() -> None:
    x, _ = with_outliers()
    stats = dimension_statistics(torch.tensor(x, dtype=torch.float32))
    means, variances = x.mean(0), x.var(0, ddof=1)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosines = unit @ unit.T
    n = len(x)
    pair_mean = (cosines.sum() - np.trace(cosines)) / (n * (n - 1))
    per_dimension = np.array([(np.outer(unit[:, k], unit[:, k]).sum() - (unit[:, k] ** 2).sum())
                              / (n * (n - 1)) for k in range(x.shape[1])])
    assert stats["top_dimensions"][:2] == [5, 17]  # variance 6400 and 1600 against ~1
    assert stats["max_abs_mean"] == pytest.approx(np.abs(means).max(), rel=1e-5)
    assert stats["median_abs_mean"] == pytest.approx(np.median(np.abs(means)), rel=1e-3)
    assert stats["kurtosis"] == pytest.approx(kurtosis(x, axis=1).mean(), rel=1e-5)
    assert stats["variance_top1"] == pytest.approx(variances.max() / variances.sum(), rel=1e-5)
    assert stats["variance_top3"] == pytest.approx(np.sort(variances)[-3:].sum()
                                                   / variances.sum(), rel=1e-5)
    assert stats["mean_cosine"] == pytest.approx(pair_mean, rel=1e-5)
    assert stats["cosine_top3"] == pytest.approx(np.sort(per_dimension)[-3:].sum() / pair_mean,
                                                 rel=1e-5)
    assert stats["cosine_top3"] > 0.99 and stats["kurtosis"] > 15  # the outliers dominate


def test_standardise_equals_numpy_z_scores_per_layer() -> None:
    x, y = with_outliers()
    stacked = torch.tensor(np.stack([x, y]), dtype=torch.float32)
    stacked[1, :, 3] = 7.0  # a constant column
    z = standardise(stacked)
    assert z.dtype == torch.float32 and z.shape == stacked.shape
    np.testing.assert_allclose(z[0].numpy(), z_scores(x), rtol=1e-4, atol=1e-5)
    assert torch.equal(z[1, :, 3], torch.zeros(len(y)))


def test_standardising_uncovers_the_signal_under_outlier_dimensions() -> None:
    x, y = with_outliers()
    assert linear_cka(x, y) < 0.1  # the independent outliers decide it
    assert linear_cka(z_scores(x), z_scores(y)) > 0.8


def test_similarity_standardises_every_condition_and_reports_dimensions(
        tiny_bert: Path, pud_text: str, pud_small: ParallelCorpus) -> None:
    config = SimilarityConfig(model=str(tiny_bert), targets=("fr",), parallel=pud_text,
                              measures=("linear",), controls=("shuffled",), device="cpu",
                              standardise=True)
    result = run_similarity(config)
    extractor = FeatureExtractor(load_encoder(tiny_bert), ExtractionOptions(use_cache=False),
                                 torch.device("cpu"))
    en, fr = (extractor.extract(pud_small, lang) for lang in ("en", "fr"))
    for layer in range(en.num_layers):
        x, y = (f.layer(layer).double().numpy() for f in (en, fr))
        assert result["results"]["linear"]["parallel"]["fr"][layer] == pytest.approx(
            linear_cka(z_scores(x), z_scores(y)), abs=1e-5)
        assert result["dimensions"]["max_abs_mean"]["en"][layer] == pytest.approx(
            np.abs(x.mean(0)).max(), rel=1e-5)
    assert set(result["dimensions"]) >= {"kurtosis", "variance_top3", "cosine_top3"}
    assert len(result["dimensions"]["top_dimensions"]["fr"]) == en.num_layers
