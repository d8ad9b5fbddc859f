"""benchmarks/study_tables.py on the tiny sweep with every analysis: each cell it prints is the
number the sweep's own results hold, computed here again from the run folders."""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from scipy import stats

from alignscope.experiments.aggregate import collect
from alignscope.runs import load_run, part_dir

REPO = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("study_tables",
                                                  REPO / "benchmarks/study_tables.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(text: str, first: str) -> list[list[str]]:
    """The cells of the markdown rows whose first cell starts with `first`."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith(f"| {first}")]


def _scores(sweep: Path) -> dict[tuple[str, int, str], float]:
    found = {}
    for folder in (sweep / "runs").glob("pos-*"):
        data = load_run(part_dir(folder, "finetune"), "finetune").data
        group = folder.name.removeprefix("pos-").rsplit("-s", 1)[0]
        seed = int(folder.name.rsplit("-s", 1)[1])
        for entry in data["evaluations"]:
            found[(group, seed, entry["language"])] = entry["metrics"]["upos_accuracy"]
    return found


def test_pos_table_is_the_paired_deltas_and_the_majority(full_sweep: Path) -> None:
    tables = _module()
    majority = {"scores": {"en": {"accuracy": 0.125}, "fr": {"accuracy": 0.25}}}
    text = tables.pos_tables(collect(full_sweep), majority)
    value = _scores(full_sweep)
    for language, base in (("en", "12.5"), ("fr", "25.0"), ("de", "–")):
        [row] = _rows(text, language)
        assert row[1] == base
        ref = [100 * value[("REF", s, language)] for s in (1, 2)]
        assert row[2] == f"{statistics.fmean(ref):.1f} ± {statistics.stdev(ref):.1f}"
        deltas = [100 * (value[("block.0-1", s, language)] - value[("REF", s, language)])
                  for s in (1, 2)]
        half = stats.t.ppf(0.975, 1) * statistics.stdev(deltas) / 2 ** 0.5
        mean = statistics.fmean(deltas)
        ablated = statistics.fmean(100 * value[("block.0-1", s, language)] for s in (1, 2))
        assert row[3] == f"{ablated:.1f} ({mean:+.1f} [{mean - half:+.1f}, {mean + half:+.1f}])"
    [drops] = _rows(text, "block.0-1")
    source = [100 * (value[("REF", s, "en")] - value[("block.0-1", s, "en")]) for s in (1, 2)]
    target = [statistics.fmean(100 * (value[("REF", s, lang)] - value[("block.0-1", s, lang)])
                               for lang in ("fr", "de", "ru")) for s in (1, 2)]
    assert drops[1].startswith(f"{statistics.fmean(source):+.1f} [")
    assert drops[3].startswith(
        f"{statistics.fmean(t - s for s, t in zip(source, target, strict=True)):+.1f} [")


def test_similarity_stability_and_correlation_tables(full_sweep: Path) -> None:
    tables = _module()
    collected = collect(full_sweep)
    [result] = tables.similarity_results(full_sweep)
    assert result == load_run(part_dir(full_sweep / "runs/similarity-pretrained", "similarity"),
                               "similarity").data
    similarity = tables.similarity_tables(result)
    curves = result["results"]["linear"]["parallel"]
    [row] = _rows(similarity, "block.1 ")
    values = [curves[lang][2] for lang in ("fr", "de", "ru")]
    assert row[1] == f"{statistics.fmean(values):.2f} [{min(values):.2f}, {max(values):.2f}]"
    for lang in ("fr", "de", "ru"):
        [row] = _rows(similarity, lang)
        aggregate = result["layer_aggregates"]["linear"]["parallel"][lang]
        assert row[1] == (f"{aggregate['mean']:.2f} / {aggregate['max']:.2f} "
                          f"({aggregate['max_layer']})")
    stability = tables.stability_tables(collected)
    assert len(_rows(stability, "block.")) == 4 and "linear en-vs-targets after" in stability
    correlation = tables.correlation_table(collected)
    assert len(_rows(correlation, "embeddings")) == 1 and "across 3 targets" in correlation


@pytest.mark.slow
def test_script_prints_every_section(full_sweep: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks/study_tables.py"),
                           str(full_sweep)], capture_output=True, text=True, check=True)
    for title in ("Similarity of", "RANDOM-INIT", "Dev curves", "Stability", "Correlation"):
        assert f"## {title}" in done.stdout


def test_correlations_match_the_sweeps_own(full_sweep: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "study_correlations", REPO / "benchmarks/study_correlations.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layers, columns, rows = module.correlations(full_sweep, [], "REF", ["linear", "mexa"])
    assert columns == ["linear raw"]  # the tiny sweep measures linear CKA, no random-init control
    sweep = [r for r in collect(full_sweep).correlation if r["measure"] == "linear"]
    assert {r["run"] for r in sweep} == {"correlation-pos-REF-s1", "correlation-pos-REF-s2"}
    for position, (layer, row) in enumerate(zip(layers, rows, strict=True)):
        at = [r["spearman"] for r in sweep if r["position"] == position]
        assert row == [layer, f"{statistics.fmean(at):.2f}"]
