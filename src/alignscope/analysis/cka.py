"""Centred kernel alignment (Kornblith et al. 2019) in torch, accumulated in float64.

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

Two HSIC estimators:
  biased     tr(K H L H) / (n-1)^2, H = I - 11^T/n (Gretton et al. 2005);
  unbiased   the U-statistic of Song et al. (2012), on K~, L~ (the Gram matrices with a
             zero diagonal):
             [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)).
             "Debiased CKA" uses it in all three places.

Two kernels:
  linear     computed in feature space, never as an n x n matrix: with column-centred
             features X, Y, tr(KHLH) = ||X^T Y||_F^2 (O(n d^2) time, O(d^2) memory). Since
             X^T 1 = 0 after centring, K1 = 0, so the unbiased terms reduce to the squared
             row norms k_i = |x_i|^2: 1'K~1 = -sum k_i, 1'K~L~1 = sum k_i l_i.
  rbf        exp(-|x_i - x_j|^2 / (2 sigma^2)), sigma = the square root of the median of the
             non-zero squared pairwise distances of that side (the rule of the CKA code that
             the authors released), chosen separately for each side.

Every function takes [n, d] feature matrices of any float dtype and device; work happens on
that device in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from alignscope.errors import ConfigError
from alignscope.registry import Registry


@dataclass(frozen=True)
class LinearSide:
    """One representation prepared for feature-space linear HSIC (biased or unbiased)."""

    centred: Tensor  # [n, d] float64, column means removed
    squared_norms: Tensor  # [n] diagonal of the centred Gram matrix
    self_cross: Tensor  # ||X^T X||_F^2

    @property
    def n(self) -> int:
        return self.centred.shape[0]


class GramSide:
    """One representation prepared as an n x n kernel matrix (RBF); the centred and
    zero-diagonal forms are computed once, when first needed."""

    def __init__(self, kernel: Tensor) -> None:
        self.kernel = kernel  # [n, n] float64, the raw (uncentred) kernel matrix
        self._self_hsic: dict[bool, Tensor] = {}  # debiased -> HSIC(K, K)

    @property
    def n(self) -> int:
        return self.kernel.shape[0]

    @cached_property
    def centred(self) -> Tensor:
        """H K H, by subtracting row, column and grand means."""
        k = self.kernel
        return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()

    @cached_property
    def zero_diagonal(self) -> Tensor:
        return self.kernel.clone().fill_diagonal_(0)

    @cached_property
    def zero_diagonal_row_sums(self) -> Tensor:
        return self.zero_diagonal.sum(1)

    def self_hsic(self, debiased: bool) -> Tensor:
        """HSIC(K, K), kept: a side compared with many others computes it once."""
        if debiased not in self._self_hsic:
            self._self_hsic[debiased] = gram_hsic(self, self, debiased)
        return self._self_hsic[debiased]


def _float64(x: Tensor) -> Tensor:
    if x.ndim != 2:
        raise ConfigError(f"CKA needs an [n, d] feature matrix, got shape {tuple(x.shape)}")
    return x.to(torch.float64)


def prepare_linear(x: Tensor) -> LinearSide:
    x = _float64(x)
    centred = x - x.mean(0, keepdim=True)
    gram = centred.T @ centred
    return LinearSide(centred, (centred * centred).sum(1), (gram * gram).sum())


def median_bandwidth(squared_distances: Tensor) -> Tensor:
    """sqrt(median of the non-zero squared distances): numpy's median (mean of the two middle
    values for an even count) over the distinct pairs i < j."""
    n = squared_distances.shape[0]
    rows, cols = torch.triu_indices(n, n, offset=1, device=squared_distances.device)
    values = squared_distances[rows, cols]
    values = values[values != 0]
    if values.numel() == 0:
        raise ConfigError("RBF bandwidth undefined: all representations are identical")
    middle = values.numel() // 2 + 1  # 1-based rank of the upper middle value
    upper = values.kthvalue(middle).values  # selection, not a full sort
    if values.numel() % 2:
        return upper.sqrt()
    return ((values.kthvalue(middle - 1).values + upper) / 2).sqrt()


def squared_distances(x: Tensor) -> Tensor:
    x = _float64(x)
    gram = x @ x.T
    norms = torch.diagonal(gram)
    return norms[:, None] + norms[None, :] - 2 * gram


def rbf_kernel(x: Tensor, sigma: float | Tensor | None = None) -> Tensor:
    """The RBF Gram matrix; `sigma` defaults to the median rule above."""
    distances = squared_distances(x)
    if sigma is None:
        sigma = median_bandwidth(distances)
    return torch.exp(distances * (-0.5 / (sigma * sigma)))


def prepare_rbf(x: Tensor, sigma: float | Tensor | None = None) -> GramSide:
    return GramSide(rbf_kernel(x, sigma))


def _check_sizes(a: LinearSide | GramSide, b: LinearSide | GramSide, debiased: bool) -> int:
    if a.n != b.n:
        raise ConfigError(f"CKA needs the same examples on both sides, got {a.n} and {b.n} rows")
    if debiased and a.n < 4:
        raise ConfigError(f"debiased CKA needs at least 4 examples, got {a.n}")
    if a.n < 2:
        raise ConfigError(f"CKA needs at least 2 examples, got {a.n}")
    return a.n


def linear_hsic(a: LinearSide, b: LinearSide, debiased: bool = False,
                cross: Tensor | None = None) -> Tensor:
    """HSIC with the linear kernel; `cross` = ||X^T Y||_F^2 when already computed."""
    n = _check_sizes(a, b, debiased)
    if cross is None:
        product = a.centred.T @ b.centred
        cross = (product * product).sum()
    if not debiased:
        return cross / (n - 1) ** 2
    kl = (a.squared_norms * b.squared_norms).sum()
    trace_k, trace_l = a.squared_norms.sum(), b.squared_norms.sum()
    return (cross - kl + trace_k * trace_l / ((n - 1) * (n - 2)) - 2 * kl / (n - 2)) \
        / (n * (n - 3))


def gram_hsic(a: GramSide, b: GramSide, debiased: bool = False) -> Tensor:
    n = _check_sizes(a, b, debiased)
    if not debiased:
        return (a.centred * b.centred).sum() / (n - 1) ** 2
    k_rows, l_rows = a.zero_diagonal_row_sums, b.zero_diagonal_row_sums
    return ((a.zero_diagonal * b.zero_diagonal).sum()
            + k_rows.sum() * l_rows.sum() / ((n - 1) * (n - 2))
            - 2 * (k_rows @ l_rows) / (n - 2)) / (n * (n - 3))


def _ratio(cross: Tensor, self_a: Tensor, self_b: Tensor) -> float:
    denominator = (self_a * self_b).sqrt()
    if not torch.isfinite(denominator) or denominator <= 0:
        return float("nan")  # a constant representation: similarity is undefined
    return float(cross / denominator)


def linear_cka_pair(a: LinearSide, b: LinearSide) -> tuple[float, float]:
    """(biased, debiased) linear CKA from one cross product, the expensive part."""
    product = a.centred.T @ b.centred
    cross = (product * product).sum()
    biased = _ratio(linear_hsic(a, b, cross=cross), linear_hsic(a, a, cross=a.self_cross),
                    linear_hsic(b, b, cross=b.self_cross))
    if a.n < 4:
        return biased, float("nan")
    debiased = _ratio(linear_hsic(a, b, True, cross), linear_hsic(a, a, True, a.self_cross),
                      linear_hsic(b, b, True, b.self_cross))
    return biased, debiased


def gram_cka(a: GramSide, b: GramSide, debiased: bool = False) -> float:
    return _ratio(gram_hsic(a, b, debiased), a.self_hsic(debiased), b.self_hsic(debiased))


def linear_cka(x: Tensor, y: Tensor, debiased: bool = False) -> float:
    """Linear CKA in feature space (no n x n matrix)."""
    a, b = prepare_linear(x), prepare_linear(y)
    _check_sizes(a, b, debiased)
    return linear_cka_pair(a, b)[1 if debiased else 0]


def rbf_cka(x: Tensor, y: Tensor, debiased: bool = False) -> float:
    """RBF CKA, each side with its own median bandwidth."""
    return gram_cka(prepare_rbf(x), prepare_rbf(y), debiased)


KERNELS: Registry[Callable[[Tensor, Tensor, bool], float]] = Registry("CKA kernel")
KERNELS.register("linear", linear_cka)
KERNELS.register("rbf", rbf_cka)


def cka(x: Tensor, y: Tensor, kernel: str = "linear", debiased: bool = False) -> float:
    return KERNELS[kernel](x, y, debiased)
