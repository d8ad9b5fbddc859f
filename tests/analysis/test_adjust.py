"""Feature adjustments: length partialling removes what sentence length explains, nothing else."""

from __future__ import annotations

import pytest
import torch

from alignscope.analysis.adjust import length_basis, partial_out
from alignscope.analysis.cka import linear_cka
from alignscope.errors import ConfigError


def length_driven_pair(n: int = 300) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                              torch.Tensor]:
    """Two 'languages' whose features are a smooth function of correlated lengths plus
    independent noise: parallel only through length."""
    generator = torch.Generator().manual_seed(0)
    source_lengths = torch.randint(3, 60, (n,), generator=generator)
    target_lengths = (source_lengths * 1.2 + torch.randint(-3, 4, (n,), generator=generator)
                      ).clamp_min(1).long()
    direction = torch.randn(2, 32, generator=generator)

    def features(lengths: torch.Tensor) -> torch.Tensor:
        t = lengths.double()[:, None]
        smooth = t.rsqrt() * direction[0] + t.log() * direction[1]
        return (5 * smooth + 0.3 * torch.randn(n, 32, generator=generator).double())[None]

    return features(source_lengths), features(target_lengths), source_lengths, target_lengths


def test_length_alone_no_longer_looks_like_similarity() -> None:
    x, y, x_lengths, y_lengths = length_driven_pair()
    assert linear_cka(x[0], y[0], debiased=True) > 0.9
    px, py = partial_out(x, length_basis(x_lengths)), partial_out(y, length_basis(y_lengths))
    assert abs(linear_cka(px[0], py[0], debiased=True)) < 0.02  # independent noise is left


def test_residuals_are_orthogonal_to_the_basis_and_shared_signal_survives() -> None:
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 40, (200,), generator=generator)
    shared = torch.randn(200, 16, generator=generator, dtype=torch.float64)
    x = (shared + 0.1 * torch.randn(200, 16, generator=generator))[None].repeat(3, 1, 1)
    basis = length_basis(lengths)
    residual = partial_out(x, basis)
    assert residual.shape == x.shape and residual.dtype == x.dtype
    assert (basis.T @ residual[1]).abs().max() < 1e-9
    y = shared + 0.1 * torch.randn(200, 16, generator=generator)
    assert linear_cka(residual[2], partial_out(y[None], basis)[0]) > 0.95


def test_few_distinct_lengths_remove_only_what_they_span() -> None:
    lengths = torch.tensor([3, 5, 8] * 20)  # 3 distinct lengths: the 5 columns span 3
    x = torch.randn(1, 60, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    residual = partial_out(x, length_basis(lengths))[0]
    assert torch.linalg.matrix_rank(residual) == 60 - 3


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least one token"):
        length_basis(torch.tensor([3, 0, 5]))
    with pytest.raises(ConfigError, match="2 lengths for 3 rows"):
        partial_out(torch.zeros(1, 3, 4), length_basis(torch.tensor([3, 4])))
