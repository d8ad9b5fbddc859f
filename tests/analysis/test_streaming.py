"""Similarity streams layers: features are read from disk one layer at a time, never all layers
of all languages at once, and the values equal an all-in-memory computation to the last bit."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from alignscope.analysis import features as features_module
from alignscope.analysis.adjust import length_basis, partial_out
from alignscope.analysis.compare import Comparison, LayerSides, compare_conditions
from alignscope.analysis.controls import derangement
from alignscope.analysis.features import ExtractionOptions, FeatureExtractor, Features
from alignscope.analysis.measures import MeasureOptions
from alignscope.analysis.similarity import (
    SimilarityConfig,
    adjusted,
    compare_languages,
    run_similarity,
)
from alignscope.data.parallel import ParallelCorpus
from alignscope.models.encoder import load_encoder

CPU = torch.device("cpu")
TARGETS = ("fr", "de")


@pytest.fixture(scope="module")
def extracted(tiny_bert: Path, pud_small: ParallelCorpus,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Features]]:
    """Handles on the tiny model's features of en, fr, de, in a cache of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALIGNSCOPE_CACHE", str(tmp_path_factory.mktemp("cache")))
        extractor = FeatureExtractor(load_encoder(tiny_bert), ExtractionOptions(), CPU)
        yield extractor.extract_all(pud_small, ("en", *TARGETS))


def in_memory(features: Features, centre: bool, partial_length: bool) -> torch.Tensor:
    """Every layer at once, adjusted on the whole [layers, rows, dim] tensor (the way the
    analysis ran before it streamed)."""
    hidden = torch.stack([features.files.load(k) for k in range(features.num_layers)])
    if centre:
        hidden = hidden - hidden.mean(1, keepdim=True)
    if partial_length:
        hidden = partial_out(hidden, length_basis(features.sentence_tokens))
    return hidden


def reference(hidden: dict[str, torch.Tensor], options: MeasureOptions,
              windows: list[tuple[int, int]] | None, shuffle: torch.Tensor,
              row_groups: torch.Tensor) -> dict[str, dict[str, Comparison]]:
    """compare_conditions on in-memory tensors, sides sliced as the analysis did before."""
    def sides(tensor: torch.Tensor) -> list[LayerSides]:
        return [LayerSides(tensor, CPU)] if windows is None else \
            [LayerSides(tensor[:, a:b], CPU) for a, b in windows]

    pairs = {lang: sides(hidden[lang]) for lang in TARGETS}
    shuffled = {lang: [pairs[lang][0].permuted(shuffle)] if windows is None
                else sides(hidden[lang][:, shuffle]) for lang in TARGETS}
    return compare_conditions(sides(hidden["en"]), pairs, options, row_groups,
                              controls={"shuffled": shuffled})


@pytest.mark.parametrize(("centre", "partial_length", "windows", "extra"), [
    (False, False, None, {"half_samples": 6, "layer_matrix": True}),
    (True, True, None, {"half_samples": 4}),
    (False, True, [(0, 10), (1, 11), (2, 12), (3, 13)], {}),
])
def test_streamed_values_equal_an_all_in_memory_computation(
        extracted: dict[str, Features], centre: bool, partial_length: bool,
        windows: list[tuple[int, int]] | None, extra: dict) -> None:
    options = MeasureOptions(("linear", "debiased", "rbf", "retrieval", "mexa", "anc"), **extra)
    shuffle = derangement(extracted["en"].rows, seed=3)
    config = SimilarityConfig(model="tiny", targets=TARGETS, centre=centre,
                              partial_length=partial_length)
    streamed = compare_languages(adjusted(extracted, config), "en", TARGETS, options, windows,
                                 CPU, shuffle)
    expected = reference({lang: in_memory(f, centre, partial_length)
                          for lang, f in extracted.items()}, options, windows, shuffle,
                         extracted["en"].row_sentence)
    for condition in ("parallel", "shuffled"):
        for lang in TARGETS:
            got, want = streamed[condition][lang], expected[condition][lang]
            assert got.values == want.values  # exactly: the same operations on the same bits
            assert (got.intervals, got.matrix, got.spread) == \
                (want.intervals, want.matrix, want.spread)
    assert streamed["parallel"]["fr"].values != streamed["shuffled"]["fr"].values
    if extra.get("layer_matrix"):
        assert len(streamed["parallel"]["fr"].matrix["linear"]) == 5


class LoadLog:
    """Wraps `load_layer`: which (entry, layer) each read returned, and which of the tensors
    read so far are still alive at each read (weak references: holding one would change what
    it measures)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[str, int]] = []
        self.alive_at_read: list[list[tuple[str, int]]] = []
        self._refs: list[tuple[tuple[str, int], weakref.ref]] = []
        real = features_module.load_layer

        def logged(entry: Path, layer: int) -> torch.Tensor:
            tensor = real(entry, layer)
            self.alive_at_read.append(self.alive())
            self.reads.append((entry.name, layer))
            self._refs.append(((entry.name, layer), weakref.ref(tensor)))
            return tensor

        monkeypatch.setattr(features_module, "load_layer", logged)

    def alive(self) -> list[tuple[str, int]]:
        return [read for read, ref in self._refs if ref() is not None]


def test_similarity_holds_one_layer_per_language_at_a_time(
        tiny_bert: Path, pud_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimilarityConfig(model=str(tiny_bert), targets=TARGETS, parallel=pud_text,
                              max_sentences=24, device="cpu", half_samples=4,
                              measures=("linear", "rbf", "retrieval"))
    run_similarity(config)  # extracts into the cache; the run below only reads it
    log = LoadLog(monkeypatch)
    result = run_similarity(config)
    assert result["extraction"]["model"]["cache_hits"] == ["en", *TARGETS]
    layers = len(result["layers"])
    # every layer of the 3 languages read while measuring, for the model and its random init
    assert len(set(log.reads)) == 2 * 3 * layers
    assert len(log.reads) == len(set(log.reads))  # each once: shared by pairs and controls
    model_reads = [layer for _, layer in log.reads[:3 * layers]]
    assert model_reads == [k for k in range(layers) for _ in range(3)]  # layer by layer
    for alive in log.alive_at_read:
        assert len(alive) <= 3  # one layer of each language of one model ...
        assert len({layer for _, layer in alive}) <= 1  # ... and the same layer
    assert not log.alive()  # nothing kept once the run is over


def test_layer_matrix_holds_the_layers_of_the_source_and_one_target(
        extracted: dict[str, Features], monkeypatch: pytest.MonkeyPatch) -> None:
    log = LoadLog(monkeypatch)
    compare_languages(extracted, "en", TARGETS, MeasureOptions(("linear",), layer_matrix=True),
                      None, CPU)
    layers = extracted["en"].num_layers
    assert max(len(alive) for alive in log.alive_at_read) == 2 * layers - 1
    for alive in log.alive_at_read:
        assert len({entry for entry, _ in alive}) <= 2


def test_features_hold_no_layer_and_a_scratch_entry_goes_with_its_handles(
        tiny_bert: Path, pud_small: ParallelCorpus, private_cache: Path) -> None:
    features = FeatureExtractor(load_encoder(tiny_bert), ExtractionOptions(use_cache=False),
                                CPU).extract(pud_small, "fr")
    assert not [value for value in vars(features).values() if isinstance(value, torch.Tensor)
                and value.dim() > 1]  # only the row index; layers stay on disk
    scratch = features.files.entry
    assert scratch.parent == private_cache / "features" and scratch.name.startswith(".fr-")
    assert features.layer(2).shape == (len(pud_small), 32)
    centred = features.adjusted(lambda hidden: hidden - hidden.mean(0))
    del features
    assert scratch.is_dir()  # the adjusted handle still reads it
    del centred
    assert not scratch.exists()
    assert not list((private_cache / "features").iterdir())


def test_no_cache_run_leaves_nothing_on_disk(tiny_bert: Path, pud_text: str,
                                             private_cache: Path) -> None:
    result = run_similarity(SimilarityConfig(model=str(tiny_bert), targets=TARGETS,
                                             parallel=pud_text, max_sentences=16, device="cpu",
                                             measures=("linear",), cache=False))
    assert len(result["results"]["linear"]["random-init"]["fr"]) == 5
    assert not list((private_cache / "features").iterdir())
