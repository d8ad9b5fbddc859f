"""MEXA, ANC and margin retrieval against numpy written from the papers' definitions; the
shuffled control on permuted prepared sides and the half-sample intervals with shared source
halves against preparing everything afresh; layer aggregates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from alignscope.analysis import retrieval
from alignscope.analysis.anc import anc
from alignscope.analysis.cka import linear_cka
from alignscope.analysis.compare import LayerSides, compare, compare_conditions, half_samples
from alignscope.analysis.controls import derangement
from alignscope.analysis.features import Extracted, Features, open_entry, write_entry
from alignscope.analysis.measures import (
    MEASURES,
    MeasureOptions,
    describe,
    layer_aggregates,
)
from alignscope.analysis.retrieval import paired_scores
from alignscope.analysis.similarity import compare_languages
from alignscope.errors import AlignscopeError, ConfigError

CPU = torch.device("cpu")
ALL = tuple(MEASURES)


def paired(n: int = 40, dim: int = 8, noise: float = 1.0, seed: int = 0,
           layers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (n, dim) if layers is None else (layers, n, dim)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    return x, x + noise * torch.randn(shape, generator=generator, dtype=torch.float64)


def numpy_cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    c = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            c[i, j] = x[i] @ y[j] / (np.linalg.norm(x[i]) * np.linalg.norm(y[j]))
    return c


def numpy_mexa(c: np.ndarray) -> float:
    """Kargaran et al.: sentence i counts when C[i, i] beats every other entry of its row and
    of its column strictly."""
    n = c.shape[0]
    count = 0
    for i in range(n):
        row = [c[i, j] for j in range(n) if j != i]
        column = [c[j, i] for j in range(n) if j != i]
        if c[i, i] > max(row) and c[i, i] > max(column):
            count += 1
    return count / n


def numpy_margin(c: np.ndarray, k: int) -> tuple[float, float]:
    """Artetxe & Schwenk (2019), ratio margin:
    score(x, y) = cos(x, y) / (sum_{z in NN_k(x)} cos(x, z) / 2k + sum_{z in NN_k(y)} cos(y, z) / 2k),
    NN_k(x) the k nearest target sentences of x, NN_k(y) the k nearest source sentences of y."""
    n = c.shape[0]
    near_x = [sum(sorted(c[i, :], reverse=True)[:k]) for i in range(n)]
    near_y = [sum(sorted(c[:, j], reverse=True)[:k]) for j in range(n)]
    score = np.array([[c[i, j] / (near_x[i] / (2 * k) + near_y[j] / (2 * k)) for j in range(n)]
                      for i in range(n)])
    forward = np.mean([np.argmax(score[i, :]) == i for i in range(n)])
    backward = np.mean([np.argmax(score[:, j]) == j for j in range(n)])
    return float(forward), float(backward)


def numpy_anc(x: np.ndarray, y: np.ndarray) -> float:
    """Del & Fishel (2022): the mean over neurons of |Pearson r| between the two languages'
    values of that neuron; neurons constant on either side have no r and are left out."""
    values = []
    for j in range(x.shape[1]):
        if np.std(x[:, j]) == 0 or np.std(y[:, j]) == 0:
            continue
        values.append(abs(np.corrcoef(x[:, j], y[:, j])[0, 1]))
    return float(np.mean(values))


@pytest.mark.parametrize("noise", [0.3, 1.0, 3.0])
def test_mexa_and_retrieval_match_the_definition(noise: float) -> None:
    x, y = paired(noise=noise)
    c = numpy_cosines(x.numpy(), y.numpy())
    values = paired_scores(x, y, {"retrieval", "mexa"})
    assert values["mexa"] == pytest.approx(numpy_mexa(c), abs=1e-6)
    forward = np.mean(c.argmax(1) == np.arange(40))
    backward = np.mean(c.argmax(0) == np.arange(40))
    assert values["retrieval-forward"] == pytest.approx(forward, abs=1e-6)
    assert values["retrieval-backward"] == pytest.approx(backward, abs=1e-6)
    assert 0 < values["mexa"] < 1 or noise < 1


def test_mexa_is_strict_and_needs_both_row_and_column() -> None:
    # Sentence 0's partner ties with column 2: not counted; sentence 1 wins its row and column;
    # sentence 2 loses its row.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    c = numpy_cosines(x.numpy(), y.numpy())
    assert numpy_mexa(c) == pytest.approx(1 / 3)
    assert paired_scores(x, y, {"mexa"})["mexa"] == pytest.approx(numpy_mexa(c), abs=1e-12)
    # Sentence 1 wins its row but source row 0 is closer to its partner: its column loses.
    x = torch.tensor([[0.1, 1.0, 0.0], [0.1, 1.0, 0.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    y = torch.eye(3, dtype=torch.float64)
    c = numpy_cosines(x.numpy(), y.numpy())
    assert c[1].argmax() == 1 and c[:, 1].argmax() == 0 and numpy_mexa(c) == pytest.approx(1 / 3)
    assert paired_scores(x, y, {"mexa"})["mexa"] == pytest.approx(numpy_mexa(c), abs=1e-12)
    assert paired_scores(x, x, {"mexa"})["mexa"] == 1.0


@pytest.mark.parametrize(("k", "noise"), [(1, 1.0), (4, 1.0), (4, 2.5), (10, 2.0)])
def test_margin_retrieval_matches_the_definition(k: int, noise: float) -> None:
    x, y = paired(noise=noise, seed=k)
    c = numpy_cosines(x.numpy(), y.numpy())
    values = paired_scores(x, y, {"margin"}, margin_k=k)
    forward, backward = numpy_margin(c, k)
    assert values["margin-forward"] == pytest.approx(forward, abs=1e-6)
    assert values["margin-backward"] == pytest.approx(backward, abs=1e-6)
    assert values["margin"] == pytest.approx((forward + backward) / 2, abs=1e-6)


def test_margin_discounts_a_hub() -> None:
    """A target row close to every source row steals plain retrieval; the margin does not."""
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(30, 16, generator=generator, dtype=torch.float64)
    y = x + 0.8 * torch.randn(30, 16, generator=generator, dtype=torch.float64)
    y[0] = x.mean(0) * 6 + 0.01 * y[0]  # the hub
    values = paired_scores(x, y, {"retrieval", "margin"})
    assert values["margin-forward"] > values["retrieval-forward"]


def test_blocks_give_the_values_of_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = paired(n=50, noise=1.5)
    whole = paired_scores(x, y, {"retrieval", "mexa", "margin"})
    monkeypatch.setattr(retrieval, "_CHUNK_ROWS", 7)
    assert paired_scores(x, y, {"retrieval", "mexa", "margin"}) == whole


def test_anc_matches_the_definition_and_skips_constant_neurons() -> None:
    x, y = paired(n=30, dim=6, noise=0.8)
    y = y * torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 1.0], dtype=torch.float64)  # signs, scales
    assert anc(x, y) == pytest.approx(numpy_anc(x.numpy(), y.numpy()), abs=1e-6)
    x[:, 2] = 5.0  # a constant neuron
    assert anc(x, y) == pytest.approx(numpy_anc(x.numpy(), y.numpy()), abs=1e-6)
    assert anc(x, x) == pytest.approx(1.0)
    assert np.isnan(anc(torch.ones(5, 3), torch.randn(5, 3)))
    with pytest.raises(ConfigError, match="same shape"):
        anc(x, y[:, :4])


def test_anc_differs_from_cka_on_a_rotation() -> None:
    """CKA ignores a rotation of one side; ANC, which pairs neuron j with neuron j, does not."""
    x, _ = paired(n=60, dim=8)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1),
                                              dtype=torch.float64))
    assert linear_cka(x, x @ rotation) == pytest.approx(1.0)
    assert anc(x, x @ rotation) < 0.8


def test_compare_gives_every_measure_per_layer() -> None:
    x, y = paired(layers=3)
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                     MeasureOptions(ALL, margin_k=3))["y"]
    for layer in range(3):
        expected = paired_scores(x[layer], y[layer], {"retrieval", "mexa", "margin"}, 3)
        for key, value in expected.items():
            assert result.values[key][layer] == value
        assert result.values["anc"][layer] == anc(x[layer], y[layer])
    assert list(result.values) == ["linear", "debiased", "rbf", "debiased-rbf", "anc",
                                   "retrieval", "retrieval-forward", "retrieval-backward",
                                   "mexa", "margin", "margin-forward", "margin-backward"]


def test_shuffled_on_permuted_prepared_sides_equals_preparing_them_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's shuffled control prepared the permuted features afresh; the permuted views
    must give the same values (to rounding in the centring), preparing nothing twice."""
    prepared: list[str] = []
    for family in {measure.family for _, measure in MEASURES.items()}:
        def counting(hidden: torch.Tensor, original=family.prepare, name=family.name) -> object:
            prepared.append(name)
            return original(hidden)
        monkeypatch.setattr(family, "prepare", counting)
    x, y = paired(n=48, layers=3, noise=0.7)
    permutation = derangement(48, seed=5)
    options = MeasureOptions(ALL)
    targets = {"y": [LayerSides(y, CPU)]}
    both = compare_conditions([LayerSides(x, CPU)], targets, options,
                              controls={"shuffled": {"y": [targets["y"][0].permuted(permutation)]}})
    assert sorted(prepared) == sorted(["linear", "rbf", "anc", "cosine"] * 2 * 3)  # x, y
    afresh = compare([LayerSides(x, CPU)], {"y": [LayerSides(y[:, permutation], CPU)]}, options)
    pairs = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]}, options)
    assert both["parallel"]["y"].values == pairs["y"].values
    for key, values in afresh["y"].values.items():
        assert both["shuffled"]["y"].values[key] == pytest.approx(values, abs=1e-12), key
    assert both["shuffled"]["y"].values["retrieval"] != pairs["y"].values["retrieval"]
    assert not targets["y"][0].resident_layers  # released with the pairs


def test_intervals_with_shared_source_halves_equal_fresh_ones() -> None:
    """Each source half is prepared once for all targets; the draws must equal those of every
    pair prepared from scratch."""
    x, y = paired(n=40, layers=2, noise=0.8)
    z = paired(n=40, layers=2, noise=1.5, seed=9)[1]
    options = MeasureOptions(ALL, half_samples=6, seed=2)
    together = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)],
                                              "z": [LayerSides(z, CPU)]}, options)
    for name, target in (("y", y), ("z", z)):
        alone = compare([LayerSides(x, CPU)], {name: [LayerSides(target, CPU)]}, options)[name]
        assert together[name].intervals == alone.intervals
    parts = half_samples(torch.arange(40), options)
    draws = [linear_cka(x[1][rows], y[1][rows]) for rows in parts]
    low, high = together["y"].intervals["linear"][1]
    deviations = np.asarray(draws) - np.mean(draws)
    estimate = together["y"].values["linear"][1]
    assert (low, high) == pytest.approx(
        (estimate + np.quantile(deviations, 0.025), estimate + np.quantile(deviations, 0.975)),
        abs=1e-12)
    for key in ("anc", "mexa", "margin", "margin-forward"):
        assert all(lo <= hi for lo, hi in together["y"].intervals[key])


def test_layer_aggregates_skip_undefined_layers() -> None:
    summary = layer_aggregates([0.2, None, 0.9, 0.4], ["embeddings", 1, 2, 3])
    assert summary == {"mean": pytest.approx(0.5), "max": 0.9, "max_layer": 2}
    assert layer_aggregates([None, None], [0, 1]) == {"mean": None, "max": None,
                                                      "max_layer": None}


def test_registry_names_close_matches_and_labels() -> None:
    with pytest.raises(AlignscopeError, match="did you mean mexa"):
        MeasureOptions(("mexx",))
    with pytest.raises(ConfigError, match="margin-k"):
        paired_scores(*paired(n=5), {"margin"}, margin_k=5)
    assert describe("margin-backward") == "margin-based top-1 retrieval, target to source"
    assert MeasureOptions(("margin", "linear")).result_keys == (
        "margin", "margin-forward", "margin-backward", "linear")


def test_layer_matrix_holds_anc_and_mexa_but_not_the_directional_measures() -> None:
    x, y = paired(layers=3, noise=0.5)
    result = compare([LayerSides(x, CPU)], {"y": [LayerSides(y, CPU)]},
                     MeasureOptions(("anc", "mexa", "margin"), layer_matrix=True))["y"]
    assert set(result.matrix) == {"anc", "mexa"}
    assert [result.matrix["mexa"][i][i] for i in range(3)] == result.values["mexa"]
    assert result.matrix["anc"][2][0] == pytest.approx(anc(x[2], y[0]), abs=1e-12)


def test_shuffled_control_in_the_authors_windows_uses_rows_outside_each_window(
        tmp_path: Path) -> None:
    """A window's permuted rows come from the whole sample: those sides are built afresh and
    must equal the windows of the permuted features."""
    x, y = paired(n=24, layers=2, noise=0.6)

    def features(lang: str, hidden: torch.Tensor) -> Features:
        (tmp_path / lang).mkdir()
        write_entry(tmp_path / lang, {}, Extracted(hidden.float(), torch.arange(24),
                                                   torch.full((24,), -1), torch.full((24,), 9), 0))
        opened = open_entry(tmp_path / lang, {}, lang)
        assert opened is not None
        return opened

    windows = [(0, 6), (1, 7), (2, 8), (3, 9)]
    permutation = derangement(24, seed=0)
    results = compare_languages({"en": features("en", x), "fr": features("fr", y)}, "en",
                                ("fr",), MeasureOptions(("linear", "mexa")), windows, CPU,
                                permutation)
    by_hand = compare([LayerSides(x.float()[:, a:b], CPU) for a, b in windows],
                      {"fr": [LayerSides(y.float()[:, permutation][:, a:b], CPU)
                              for a, b in windows]}, MeasureOptions(("linear", "mexa")))["fr"]
    assert results["shuffled"]["fr"].values == by_hand.values
    assert results["parallel"]["fr"].values != by_hand.values
