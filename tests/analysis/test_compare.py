"""Layer comparisons: windows, half samples, layer matrix, retrieval and the controls' helpers."""

from __future__ import annotations

import pytest
import torch

from alignscope.analysis import compare as compare_module
from alignscope.analysis.cka import linear_cka, rbf_cka
from alignscope.analysis.compare import LayerSides, MeasureOptions, compare
from alignscope.analysis.controls import derangement
from alignscope.analysis.retrieval import cosine_matrix, retrieval_accuracy, subset_scores
from alignscope.errors import AlignscopeError, ConfigError

CPU = torch.device("cpu")


def paired_layers(n: int = 48, layers: int = 3, dim: int = 6, seed: int = 0,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """x and a noisier y per layer, the noise growing with depth."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(layers, n, dim, generator=generator)
    noise = torch.randn(layers, n, dim, generator=generator)
    scale = torch.linspace(0.2, 2.0, layers)[:, None, None]
    return x, x + scale * noise


def test_values_per_layer_match_the_direct_functions() -> None:
    x, y = paired_layers()
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                     MeasureOptions(("linear", "debiased", "rbf", "debiased-rbf", "retrieval")))["y"]
    for layer in range(3):
        assert result.values["linear"][layer] == pytest.approx(linear_cka(x[layer], y[layer]))
        assert result.values["debiased"][layer] == \
            pytest.approx(linear_cka(x[layer], y[layer], debiased=True))
        assert result.values["rbf"][layer] == pytest.approx(rbf_cka(x[layer], y[layer]))
        forward, backward = retrieval_accuracy(x[layer], y[layer])
        assert result.values["retrieval-forward"][layer] == forward
        assert result.values["retrieval"][layer] == pytest.approx((forward + backward) / 2)
    assert result.values["linear"] == sorted(result.values["linear"], reverse=True)
    assert not result.intervals and not result.matrix and not result.spread


def test_one_source_against_several_targets() -> None:
    x, y = paired_layers()
    source = LayerSides(x, CPU)
    results = compare([source], {"y": [LayerSides(y, CPU)], "x": [LayerSides(x, CPU)]},
                      MeasureOptions(("linear", "rbf")))
    assert results["x"].values["rbf"] == pytest.approx([1.0] * 3)
    alone = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                    MeasureOptions(("linear", "rbf")))["y"]
    assert results["y"].values == alone.values
    assert not source.resident_layers  # every layer released once all targets were measured


def test_windows_are_averaged_and_their_spread_kept() -> None:
    x, y = paired_layers(n=40)
    windows = [(0, 10), (1, 11), (2, 12)]
    result = compare([LayerSides(x[:, a:b], CPU) for a, b in windows],
                     {"y": [LayerSides(y[:, a:b], CPU) for a, b in windows]},
                     MeasureOptions(("rbf",)))["y"]
    expected = [sum(rbf_cka(x[layer, a:b], y[layer, a:b]) for a, b in windows) / 3
                for layer in range(3)]
    assert result.values["rbf"] == pytest.approx(expected)
    assert len(result.spread["rbf"]) == 3
    with pytest.raises(ConfigError, match="one sample"):
        compare([LayerSides(x[:, a:b], CPU) for a, b in windows],
                {"y": [LayerSides(y[:, a:b], CPU) for a, b in windows]},
                MeasureOptions(("rbf",), half_samples=5))


def test_half_samples_are_seeded_and_brackets_a_range() -> None:
    x, y = paired_layers()
    options = MeasureOptions(("linear", "rbf", "retrieval"), half_samples=30, seed=3)
    first = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]}, options)["y"]
    again = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]}, options)["y"]
    other = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                    MeasureOptions(("linear", "rbf", "retrieval"), half_samples=30, seed=4))["y"]
    assert first.intervals == again.intervals != other.intervals
    for key in ("linear", "rbf", "retrieval", "retrieval-forward"):
        assert len(first.intervals[key]) == 3
        assert all(low <= high for low, high in first.intervals[key])


def latent_pairs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of a shared 16-dimensional latent, each with its own noise: [1, n, 48]."""
    mix_x = torch.randn(16, 48, generator=torch.Generator().manual_seed(100))
    mix_y = torch.randn(16, 48, generator=torch.Generator().manual_seed(101))
    latent = torch.randn(n, 16, generator=generator)
    x = latent @ mix_x + 2 * torch.randn(n, 48, generator=generator)
    y = latent @ mix_y + 2 * torch.randn(n, 48, generator=generator)
    return x[None], y[None]


def test_intervals_hold_the_estimate_and_match_the_sampling_spread() -> None:
    """Repeated sentences (drawing with replacement) would push debiased CKA's whole interval
    above the estimate; disjoint half-samples keep it centred, at the right width."""
    generator = torch.Generator().manual_seed(0)
    options = MeasureOptions(("linear", "debiased"), half_samples=100, seed=1)
    x, y = latent_pairs(400, generator)
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]}, options)["y"]
    fresh = [compare([LayerSides(a, CPU)], {"y": [LayerSides(b, CPU)]},
                     MeasureOptions(("linear", "debiased")))["y"].values
             for a, b in (latent_pairs(400, generator) for _ in range(60))]
    for key in ("linear", "debiased"):
        low, high = result.intervals[key][0]
        assert abs((low + high) / 2 - result.values[key][0]) < 0.25 * (high - low)
        sampling_sd = torch.tensor([v[key][0] for v in fresh]).std().item()
        assert 0.6 < (high - low) / (2 * 1.96 * sampling_sd) < 1.6


def test_half_samples_draw_whole_sentences_for_word_rows() -> None:
    x, y = paired_layers(n=30)
    groups = torch.arange(10).repeat_interleave(3)  # 10 sentences of 3 words
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                     MeasureOptions(("linear",), half_samples=10), groups)["y"]
    assert len(result.intervals["linear"]) == 3


def test_layer_matrix_diagonal_is_the_per_layer_curve() -> None:
    x, y = paired_layers(layers=4)
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y[:3], CPU)]},
                     MeasureOptions(("linear", "rbf"), layer_matrix=True))["y"]
    matrix = result.matrix["linear"]
    assert len(matrix) == 4 and len(matrix[0]) == 3
    assert [matrix[i][i] for i in range(3)] == pytest.approx(result.values["linear"])
    assert matrix[3][0] == pytest.approx(linear_cka(x[3], y[0]))


def test_layer_matrix_holds_one_target_prepared_at_a_time(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    x, y = paired_layers(layers=3)
    targets = {"a": [LayerSides(y, CPU)], "b": [LayerSides(x + y, CPU)]}
    held = []
    original = compare_module.layer_matrix

    def recording(source: LayerSides, target: LayerSides, options: MeasureOptions) -> dict:
        held.append({name: len(sides[0].resident_layers) for name, sides in targets.items()})
        return original(source, target, options)

    monkeypatch.setattr(compare_module, "layer_matrix", recording)
    source = LayerSides(x, CPU)
    compare([source], targets, MeasureOptions(("rbf",), layer_matrix=True))
    assert held == [{"a": 0, "b": 0}, {"a": 0, "b": 0}]  # prepared inside, released after
    assert not source.resident_layers and not targets["a"][0].resident_layers
    assert not targets["b"][0].resident_layers


def test_retrieval_directions_and_resampling() -> None:
    x, _ = paired_layers(n=20)
    assert retrieval_accuracy(x[0], x[0]) == (1.0, 1.0)
    permutation = derangement(20, seed=0)
    forward, backward = retrieval_accuracy(x[0], x[0][permutation])
    assert forward == backward == 0.0
    rows = torch.tensor([7, 0, 5])
    same = subset_scores(cosine_matrix(x[0], x[0]), rows, {"retrieval"})
    assert (same["retrieval-forward"], same["retrieval-backward"]) == (1.0, 1.0)
    other = subset_scores(cosine_matrix(x[0], x[0][permutation]), rows, {"retrieval"})
    assert other["retrieval"] < 1.0


def test_derangement_moves_every_row_and_is_seeded() -> None:
    permutation = derangement(50, seed=7)
    assert sorted(permutation.tolist()) == list(range(50))
    assert not (permutation == torch.arange(50)).any()
    assert torch.equal(permutation, derangement(50, seed=7))
    assert not torch.equal(permutation, derangement(50, seed=8))


def test_measure_options_are_checked() -> None:
    with pytest.raises(AlignscopeError, match="unknown measure 'cca'"):
        MeasureOptions(("linear", "cca"))
    with pytest.raises(ConfigError, match="confidence"):
        MeasureOptions(confidence=1.5)
