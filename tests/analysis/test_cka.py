"""CKA in torch against plain numpy textbook formulas, and its invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alignscope.analysis.cka import (
    cka,
    linear_cka,
    linear_hsic,
    median_bandwidth,
    prepare_linear,
    rbf_cka,
    squared_distances,
)
from alignscope.errors import ConfigError

VARIANTS = [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)]


# --- numpy textbook -------------------------------------------------------------------------

def np_hsic(k: np.ndarray, l_: np.ndarray) -> float:
    """Gretton et al. (2005): tr(K H L H) / (n-1)^2 with the centring matrix H."""
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l_ @ h)) / (n - 1) ** 2


def np_hsic_unbiased(k: np.ndarray, l_: np.ndarray) -> float:
    """Song et al. (2012), equation (5), with the diagonals set to zero."""
    n = k.shape[0]
    kt, lt = k.copy(), l_.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    value = (np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
             - 2 / (n - 2) * (one @ kt @ lt @ one))
    return float(value) / (n * (n - 3))


def np_rbf(x: np.ndarray) -> np.ndarray:
    """The RBF kernel of the authors' released CKA code: sigma^2 = median non-zero sq. distance."""
    gram = x @ x.T
    distances = np.diag(gram) - gram + (np.diag(gram) - gram).T
    sigma = math.sqrt(np.median(distances[distances != 0]))
    return np.exp(distances * (-0.5 / (sigma * sigma)))


def np_cka(x: np.ndarray, y: np.ndarray, kernel: str, debiased: bool) -> float:
    k, l_ = (x @ x.T, y @ y.T) if kernel == "linear" else (np_rbf(x), np_rbf(y))
    hsic = np_hsic_unbiased if debiased else np_hsic
    return hsic(k, l_) / math.sqrt(hsic(k, k) * hsic(l_, l_))


# --- data -----------------------------------------------------------------------------------

def pair(n: int, d_x: int, d_y: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Related, non-centred representations: y is a noisy non-linear map of x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d_x)) + rng.normal(size=d_x) * 3
    y = np.tanh(x @ rng.normal(size=(d_x, d_y))) + 0.5 * rng.normal(size=(n, d_y)) + 2
    return x, y


@pytest.mark.parametrize(("kernel", "debiased"), VARIANTS)
@pytest.mark.parametrize(("n", "d_x", "d_y"), [(40, 8, 5), (25, 60, 30)])
def test_every_variant_matches_numpy_textbook(kernel: str, debiased: bool, n: int, d_x: int,
                                              d_y: int) -> None:
    x, y = pair(n, d_x, d_y)
    expected = np_cka(x, y, kernel, debiased)
    assert cka(torch.from_numpy(x), torch.from_numpy(y), kernel, debiased) == \
        pytest.approx(expected, abs=1e-6)


def test_linear_hsic_values_match_textbook() -> None:
    x, y = pair(30, 6, 4, seed=1)
    a, b = prepare_linear(torch.from_numpy(x)), prepare_linear(torch.from_numpy(y))
    assert float(linear_hsic(a, b)) == pytest.approx(np_hsic(x @ x.T, y @ y.T), rel=1e-9)
    assert float(linear_hsic(a, b, debiased=True)) == \
        pytest.approx(np_hsic_unbiased(x @ x.T, y @ y.T), rel=1e-9)


def test_median_bandwidth_is_the_released_rule() -> None:
    x, _ = pair(31, 5, 2, seed=2)
    x[3] = x[7]  # a duplicate: its zero distance is left out, as in the released code
    gram = x @ x.T
    distances = np.diag(gram) - gram + (np.diag(gram) - gram).T
    expected = math.sqrt(np.median(distances[distances != 0]))
    assert float(median_bandwidth(squared_distances(torch.from_numpy(x)))) == \
        pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("kernel", "debiased"), VARIANTS)
def test_cka_of_a_representation_with_itself_is_one(kernel: str, debiased: bool) -> None:
    x, _ = pair(50, 10, 3, seed=3)
    assert cka(torch.from_numpy(x), torch.from_numpy(x), kernel, debiased) == \
        pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("kernel", "debiased"), VARIANTS)
def test_invariant_to_orthogonal_transform_and_isotropic_scaling(kernel: str,
                                                                 debiased: bool) -> None:
    x, y = pair(60, 12, 7, seed=4)
    rotation, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(12, 12)))
    base = cka(torch.from_numpy(x), torch.from_numpy(y), kernel, debiased)
    moved = cka(torch.from_numpy(3.7 * x @ rotation), torch.from_numpy(y), kernel, debiased)
    assert moved == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize(("kernel", "debiased"), VARIANTS)
def test_float32_and_float64_inputs_agree(kernel: str, debiased: bool) -> None:
    x, y = pair(80, 16, 16, seed=6)
    as64 = cka(torch.from_numpy(x), torch.from_numpy(y), kernel, debiased)
    as32 = cka(torch.from_numpy(x).float(), torch.from_numpy(y).float(), kernel, debiased)
    assert as32 == pytest.approx(as64, abs=1e-5)


def test_linear_cka_never_builds_an_n_by_n_matrix() -> None:
    # 150,000 rows: an n x n float64 matrix would need 180 GB; feature space needs kilobytes.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(150_000, 3, generator=generator)
    y = x @ torch.randn(3, 2, generator=generator)
    assert 0 < linear_cka(x, y) <= 1
    assert 0 < linear_cka(x, y, debiased=True) <= 1


def test_constant_representation_gives_nan_and_tiny_samples_are_refused() -> None:
    x = torch.randn(10, 4)
    assert math.isnan(linear_cka(torch.ones(10, 4), x))
    with pytest.raises(ConfigError, match="at least 4"):
        linear_cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ConfigError, match="same examples"):
        rbf_cka(x, x[:5])
