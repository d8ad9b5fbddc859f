"""A sweep with every analysis, aggregated and rendered: tables hold the paired statistics
and the HTML report parses and embeds every figure."""

from __future__ import annotations

import base64
import csv
import importlib.util
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from alignscope.cli import app


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_summary_pairs_seeds_against_ref(full_sweep: Path) -> None:
    scores = read_csv(full_sweep / "results/scores.csv")
    assert {r["run"] for r in scores} == {"pos-REF-s1", "pos-REF-s2", "pos-block.0-1-s1",
                                          "pos-block.0-1-s2"}
    value = {(r["group"], r["seed"], r["language"]): float(r["value"]) for r in scores
             if r["metric"] == "upos_accuracy"}
    summary = {(r["group"], r["language"]): r for r in read_csv(full_sweep /
                                                                "results/summary.csv")}
    for language in ("en", "fr", "de", "ru"):
        deltas = [value[("block.0-1", s, language)] - value[("REF", s, language)]
                  for s in ("1", "2")]
        row = summary[("block.0-1", language)]
        assert float(row["delta_mean"]) == pytest.approx(statistics.fmean(deltas))
        half = stats.t.ppf(0.975, 1) * statistics.stdev(deltas) / 2 ** 0.5
        assert float(row["delta_high"]) == pytest.approx(statistics.fmean(deltas) + half)
        assert float(row["mean"]) == pytest.approx(
            statistics.fmean(value[("block.0-1", s, language)] for s in ("1", "2")))
    drops = read_csv(full_sweep / "results/drops.csv")[0]
    source = [value[("REF", s, "en")] - value[("block.0-1", s, "en")] for s in ("1", "2")]
    target = [statistics.fmean(value[("REF", s, lang)] - value[("block.0-1", s, lang)]
                               for lang in ("fr", "de", "ru")) for s in ("1", "2")]
    assert float(drops["target_minus_source"]) == pytest.approx(
        statistics.fmean(t - s for s, t in zip(source, target, strict=True)))
    # Parquet beside the CSV exactly when pyarrow is installed (CI installs only `.[dev]`).
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    assert (full_sweep / "results/scores.parquet").is_file() == has_pyarrow
    layers = {r["layer"] for r in read_csv(full_sweep / "results/similarity.csv")}
    assert layers == {"embeddings", "block.0", "block.1", "block.2", "block.3"}
    assert len(read_csv(full_sweep / "results/correlation.csv")) == 2 * 5
    # checkpoints are deleted once their analyses are done (keep_checkpoints: false)
    assert not list((full_sweep / "runs").glob("*/finetune/checkpoint"))


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.sources.append(attributes.get("src") or "")
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)


def test_report_embeds_every_figure(full_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(full_sweep), "--out", str(out)])
    assert result.exit_code == 0, result.output
    figures = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert figures == ["correlation", "drops-pos", "heatmap-pos", "similarity", "stability"]
    assert sorted(p.stem for p in (out / "figures").glob("*.svg")) == figures
    parser = _Images()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    parser.close()
    assert not parser.external  # viewable offline
    assert len(parser.sources) == len(figures)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in parser.sources
                if src.startswith("data:image/png;base64,")}
    assert embedded == {(out / "figures" / f"{stem}.png").read_bytes() for stem in figures}
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"figures/{stem}.png" in markdown for stem in figures)
    assert "| block.0-1 |" in markdown and "Every planned run finished." in markdown
    assert "dotted: the shuffled pairs control" in markdown  # the similarity's baseline
    hardware = next(line for line in markdown.splitlines() if line.startswith("- hardware:"))
    assert hardware.endswith(": cpu")  # correlation runs (on the driver, no device) left out
    assert (out / "tables/random-init-pos.tex").is_file()


def test_layer_groups_are_listed_in_model_order() -> None:
    from alignscope.report.render import in_model_order

    assert in_model_order(["block.10-11", "REF", "block.4-5", "embeddings", "block.0-1",
                           "block.4-5", "other"]) == ["REF", "embeddings", "block.0-1", "block.4-5",
                                                     "block.10-11", "other"]
